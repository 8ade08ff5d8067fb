"""The docs site holds together: its generated pages are the ones the code makes, every page is in the navigation,
the configuration page names every variable a process reads, and the README stays a ten-minute read.

(`make docs` builds the site with `mkdocs build --strict`: a broken link or anchor fails there; `make test` runs it.)"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices

from infra import docs_site
from services.kit.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/__main__.py"))


def mkdocs_config() -> dict[str, Any]:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("tag:yaml.org,2002:python/name:", lambda loader, suffix, node: suffix)
    config: dict[str, Any] = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=Loader)  # noqa: S506 - SafeLoader
    return config


def nav_pages(items: list[Any]) -> list[str]:
    found: list[str] = []
    for item in items:
        values = item.values() if isinstance(item, dict) else [item]
        for value in values:
            found += nav_pages(value) if isinstance(value, list) else [value]
    return found


def test_the_generated_pages_are_the_ones_the_code_makes() -> None:
    stale = docs_site.stale(docs_site.generated())
    assert stale == [], f"run: make docs-pages ({', '.join(str(p.relative_to(ROOT)) for p in stale)})"
    topics = {p.name.removesuffix(".schema.json") for p in (ROOT / "schemas/json").glob("*.schema.json")}
    assert {p.stem for p in (DOCS / "topics").glob("*.md")} == topics | {"index"}


def test_a_stale_or_orphaned_page_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = docs_site.topic_pages()
    page = docs_site.TOPICS / "lab.results.v1.md"
    assert docs_site.stale(made) == []
    assert docs_site.stale({**made, page: made[page] + "changed\n"}) == [page]
    monkeypatch.setattr(docs_site, "TOPICS", tmp_path)
    (tmp_path / "index.md").write_text("# Topics\n")
    (tmp_path / "lab.results.v0.md").write_text("a topic nothing makes any more\n")
    assert docs_site.stale({}) == [tmp_path / "lab.results.v0.md"]


def test_a_topic_page_names_its_facts_and_its_channels() -> None:
    page = (DOCS / "topics" / "lab.results.v1.md").read_text()
    assert "| key | `<laboratory_id>:<report_id>` |" in page and "| partitions | 6 |" in page
    assert "| records | consumes | `records.lab-results` |" in page
    assert "| `patient_matricule` | string | yes |" in page and "```json" in page
    assert "`records.lab-results`" not in (DOCS / "topics" / "registry.persons.v1.md").read_text()


def test_every_page_is_in_the_navigation_and_nothing_else() -> None:
    config = mkdocs_config()
    assert config["strict"] is True and config["site_dir"] == "build/site"
    assert config["validation"]["anchors"] == "warn"  # strict: a link to a missing anchor fails the build
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    listed = nav_pages(config["nav"])
    assert sorted(listed) == pages, set(listed) ^ set(pages)
    assert "docs/" not in (ROOT / ".gitignore").read_text() and "build/" in (ROOT / ".gitignore").read_text()


def variables(cls: type[ServiceSettings]) -> set[str]:
    prefix = str(cls.model_config.get("env_prefix", ""))
    found = set()
    for name, field in cls.model_fields.items():
        alias = field.validation_alias
        names = ([a for a in alias.choices if isinstance(a, str)] if isinstance(alias, AliasChoices)
                 else [alias] if isinstance(alias, str) else [f"{prefix}{name}"])
        found |= {n.upper() for n in names}
    return found


def test_the_configuration_page_names_every_variable() -> None:
    page = (DOCS / "configuration.md").read_text()
    read: set[str] = set()
    for service in SERVICES:
        module = importlib.import_module(f"services.{service}.app")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, ServiceSettings) and value is not ServiceSettings:
                read |= variables(value)
    compose = set(re.findall(r"\$\{([A-Z0-9_]+)[:}]", (ROOT / "compose.yaml").read_text()))
    demo = set(re.findall(r'"(DSP_[A-Z0-9_]+)"', (ROOT / "demo/laboratory.py").read_text()))
    named = set(re.findall(r"`(DSP_[A-Z0-9_<>]+)`", page))
    per_principal = {v for v in compose if re.fullmatch(r"DSP_(KAFKA_PASSWORD|MONGO_PASSWORD)_[A-Z]+", v)}
    missing = (read | demo | compose) - per_principal - named
    assert read and not missing, sorted(missing)
    assert {"`DSP_KAFKA_PASSWORD_<PRINCIPAL>`", "`DSP_MONGO_PASSWORD_<SERVICE>`"} <= set(re.findall(r"`[^`]+`", page))


def test_the_readme_is_a_ten_minute_read_that_points_into_the_site() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    assert "`.ci/run` calls exactly `make test`." in readme and "make run" in readme and "make inbox" in readme
    assert "Gateway, coming" not in readme
    diagram = re.findall(r"```mermaid\n.*?```", readme, re.S)
    assert diagram and diagram == re.findall(r"```mermaid\n.*?```", (DOCS / "overview.md").read_text(), re.S)
    assert "directory.laboratories.v1" in diagram[0] and "access.audit-heads.v1" in diagram[0]
    links = re.findall(r"\]\((docs/[^)#]+)(?:#([^)]+))?\)", readme)
    assert len(links) >= 15
    for target, _anchor in links:
        assert (ROOT / target).is_file(), target
    assert (ROOT / ".ci/run").read_text().rstrip().endswith("make test")
