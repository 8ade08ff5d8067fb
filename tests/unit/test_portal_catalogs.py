"""Every sentence the portal writes (its templates and its routes) has a French and a German translation, and every
catalog compiles — so each page exists in the three languages (English is the message ids)."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

PORTAL = Path(__file__).resolve().parents[2] / "services" / "gateway" / "web"


def _used() -> set[str]:
    found = extract_from_dir(str(PORTAL), method_map=[("templates/**.html", "jinja2"), ("**.py", "python")],
                             options_map={"templates/**.html": {"extensions": "jinja2.ext.i18n"}},
                             keywords={"_": None, "gettext": None})
    return {m if isinstance(m, str) else m[0] for _file, _line, m, _comments, _context in found}


def _translated(lang: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for po in sorted((PORTAL / "locales" / lang / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as f:
            for message in read_po(f, locale=lang):
                if message.id and message.string:
                    out[str(message.id)] = str(message.string)
    return out


@pytest.mark.parametrize("lang", ["fr", "de"])
def test_every_sentence_of_the_portal_is_translated(lang: str) -> None:
    used, translated = _used(), _translated(lang)
    assert len(used) > 20
    missing = sorted(used - translated.keys())
    assert not missing, f"{len(missing)} sentences without a {lang} translation: {missing}"


@pytest.mark.parametrize("lang", ["fr", "de"])
def test_placeholders_survive_translation(lang: str) -> None:
    import re

    for source, target in _translated(lang).items():
        assert set(re.findall(r"\{\w+\}", source)) == set(re.findall(r"\{\w+\}", target)), (lang, source, target)


@pytest.mark.parametrize("lang", ["fr", "de"])
def test_each_sentence_has_one_translation(lang: str) -> None:
    """A sentence lives in one catalog of a language: two files translating it differently would make the page's
    wording depend on the order the catalogs are merged in."""
    owners: dict[str, list[str]] = {}
    for po in sorted((PORTAL / "locales" / lang / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as f:
            for message in read_po(f, locale=lang):
                if message.id:
                    owners.setdefault(str(message.id), []).append(po.name)
    shared = {m: files for m, files in owners.items() if len(files) > 1}
    assert not shared, f"sentences in more than one {lang} catalog (keep each in one): {shared}"
