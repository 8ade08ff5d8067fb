"""The Docker host path, checked with the real tools and no engine: compose.yaml rendered by Docker Compose
v2.40.3 (`compose config`, built through the Go module proxy by `infra.tools`), the Prometheus file checked by
promtool, the Dockerfile read and its install step run.

Each check stands for a way `docker compose up` would break: a service the code has but compose lacks, a
variable a service never reads (a typo, or a secret given to one that needs none), a missing secret noticed
only when a worker crashes, a healthcheck calling a program its image lacks, nine builds of one image, a user
who cannot write its own folders, a broker the host cannot reach.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices

from infra.tools import COMPOSE, PROMTOOL, install
from services.kit.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
RAW = yaml.safe_load((ROOT / "compose.yaml").read_text())
CODE_SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/__main__.py"))
SINK_PORT = 8125

needs_go = pytest.mark.skipif(shutil.which("go") is None, reason="Go builds the real compose and promtool (CI has Go)")


@cache
def keys() -> dict[str, str]:
    """A newcomer's .env: what `python -m infra.dotenv` prints (the command itself, run once)."""
    done = subprocess.run([sys.executable, "-m", "infra.dotenv", "--stdout"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return read_env(done.stdout)


def read_env(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def compose(tmp: Path, env: dict[str, str], *args: str, env_file: Path | None = None
            ) -> subprocess.CompletedProcess[str]:
    """The real binary on the repo's compose.yaml; only `env` and `env_file` (no developer's .env, no shell
    variable)."""
    if env_file is None:
        env_file = tmp / "empty.env"
        env_file.write_text("")
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp), **env}
    return subprocess.run([str(install(COMPOSE)), "--project-directory", str(ROOT), "-f", str(ROOT / "compose.yaml"),
                           "--env-file", str(env_file), *args], capture_output=True, text=True, env=clean,
                          timeout=120, check=False)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if shutil.which("go") is None:
        pytest.skip("Go builds the real compose binary (CI has Go)")
    done = compose(tmp_path_factory.mktemp("compose"), keys(), "config", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr  # no warning either (an obsolete key, an unset variable ...)
    config: dict[str, Any] = json.loads(done.stdout)
    return config


def services(rendered: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = rendered["services"]
    return found


def ours(rendered: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run this project's image (a `python -m` command)."""
    return {n: s for n, s in services(rendered).items() if (s.get("command") or [None])[0] == "python"}


def settings_class(name: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"services.{name}.app")
    found = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, ServiceSettings)
             and v is not ServiceSettings and v.service == name]
    assert len(found) == 1, (name, found)
    return found[0]


def variables_read(cls: type[ServiceSettings]) -> dict[str, bool]:
    """Each environment variable the settings class reads (upper case) → whether it is required."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    read: dict[str, bool] = {}
    for name, field in cls.model_fields.items():
        alias = field.validation_alias
        names = ([a for a in alias.choices if isinstance(a, str)] if isinstance(alias, AliasChoices)
                 else [alias] if isinstance(alias, str) else [f"{prefix}{name}"])
        for variable in names:
            read[variable.upper()] = field.is_required()
    return read


def module_reads(module: str) -> set[str]:
    """DSP_* variables a plain module (`python -m infra`, the demo, the sinks) reads from os.environ."""
    path = ROOT / module.replace(".", "/")
    source = (path / "__main__.py" if path.is_dir() else path.with_suffix(".py")).read_text()
    return {node.value for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"DSP_[A-Z0-9_]+",
                                                                                                 node.value)}


def reads_of(name: str, service: dict[str, Any]) -> set[str]:
    if name in CODE_SERVICES:
        return set(variables_read(settings_class(name)))
    return module_reads(service["command"][2])


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines = [ln for ln in (ROOT / "Dockerfile").read_text().splitlines() if not ln.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in joined.splitlines() if ln.strip()]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction, args in dockerfile():
        if instruction == "ENV":
            env.update(dict(item.split("=", 1) for item in shlex.split(args)))
    return env


def run_commands() -> list[list[str]]:
    return [shlex.split(cmd) for instruction, args in dockerfile() if instruction == "RUN"
            for cmd in args.split("&&")]


# ---- compose.yaml, as Compose renders it ----------------------------------------------------------------------

@needs_go
def test_every_service_the_code_has_runs_and_the_infrastructure_it_needs(rendered: dict[str, Any]) -> None:
    running = services(rendered)
    for name in CODE_SERVICES:
        assert running[name]["command"] == ["python", "-m", f"services.{name}"], name
    commands = {n: s["command"] for n, s in ours(rendered).items()}
    assert commands["topics"] == ["python", "-m", "infra", "topics"]
    assert commands["sms-sink"][:4] == ["python", "-m", "infra.sinks", "sms"]
    assert commands["demo-laboratory"][:3] == ["python", "-m", "demo.laboratory"]
    for name, image in {"kafka": "apache/kafka:4.", "mongo": "mongo:", "mailpit": "axllent/mailpit:",
                        "prometheus": "prom/prometheus:", "grafana": "grafana/grafana:"}.items():
        assert running[name]["image"].startswith(image), name
    assert (ROOT / "infra/grafana/provisioning").is_dir()
    for name in CODE_SERVICES:  # none starts before its topics exist and its stores are healthy
        deps = running[name]["depends_on"]
        assert deps["topics"]["condition"] == "service_completed_successfully", name
        assert deps["kafka"]["condition"] == deps["mongo"]["condition"] == "service_healthy", name
    assert running["notify"]["depends_on"]["sms-sink"]["condition"] == "service_healthy"
    assert running["notify"]["depends_on"]["mailpit"]["condition"] == "service_healthy"


@needs_go
def test_one_image_built_once_for_every_python_service(rendered: dict[str, Any]) -> None:
    built = [n for n, s in services(rendered).items() if "build" in s]
    assert built == ["topics"], built  # the first of ours to start; every worker depends on it
    topics = services(rendered)["topics"]
    assert topics["build"]["context"] == str(ROOT) and topics["pull_policy"] == "build"
    for name, service in ours(rendered).items():
        assert service.get("image") == topics["image"], name
        if name != "topics":
            assert service["pull_policy"] == "never", name  # built here, never looked for on a registry


@needs_go
def test_every_dsp_variable_given_is_one_the_service_reads(rendered: dict[str, Any]) -> None:
    image_vars = {k for k in image_env() if k.startswith("DSP_")}
    assert image_vars <= set(variables_read(ServiceSettings)), image_vars  # the image's own ENV
    for name, service in ours(rendered).items():
        given = {k for k in service.get("environment", {}) if k.startswith("DSP_")}
        unread = given - reads_of(name, service)
        assert not unread, f"{name} is given {sorted(unread)}, which it never reads"
    for name, service in services(rendered).items():
        if name not in ours(rendered):
            assert not any(k.startswith("DSP_") for k in service.get("environment", {})), name
    given_code_key = [n for n, s in services(rendered).items() if "DSP_ACTIVATION_CODE_KEY" in s.get("environment", {})]
    assert given_code_key == ["activation"]


@needs_go
def test_each_service_loads_its_settings_from_what_compose_gives_it(rendered: dict[str, Any],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CODE_SERVICES:
        service = services(rendered)[name]
        for key in list(os.environ):
            if key.startswith("DSP_"):
                monkeypatch.delenv(key)
        for key, value in {**image_env(), **service["environment"]}.items():
            if key.startswith("DSP_"):
                monkeypatch.setenv(key, value)
        loaded = settings_class(name)()  # raises on a missing or malformed variable
        assert loaded.kafka_bootstrap == "kafka:9092" and loaded.mongo_uri == "mongodb://mongo:27017/"
        assert loaded.http_host == "0.0.0.0", name  # noqa: S104 - reachable through the published port
        published = [p for p in service["ports"] if p["target"] == loaded.http_port]
        assert published and published[0]["host_ip"] == "127.0.0.1", name


def test_every_required_variable_is_demanded_and_fails_fast_when_missing(tmp_path: Path) -> None:
    text = (ROOT / "compose.yaml").read_text()
    demanded = set(re.findall(r"\$\{(DSP_[A-Z0-9_]+):\?", text))
    assert not re.findall(r"\$\{(DSP_[A-Z0-9_]*KEY):-", text.replace("DSP_GATEWAY_PRO_IDP_KEY:-", ""))
    for name in CODE_SERVICES:  # a variable its settings require is given, and only as ${VAR:?...}
        environment = RAW["services"][name]["environment"]
        for variable, required in variables_read(settings_class(name)).items():
            if required:
                given = re.match(r"\$\{(DSP_[A-Z0-9_]+):\?", str(environment.get(variable, "")))
                assert given, (name, variable)  # e.g. DSP_SERVICE_KEY from ${DSP_SERVICE_KEY_GATEWAY:?...}
                assert given.group(1) in demanded
    assert {"DSP_LOG_PSEUDONYM_KEY", "DSP_ACTIVATION_CODE_KEY", "DSP_NOTIFY_SEAL_KEY",
            "DSP_NOTIFY_PUBLIC_KEY"} <= demanded
    if shutil.which("go") is None:
        pytest.skip("Go builds the real compose binary")
    for variable in sorted(demanded):
        done = compose(tmp_path, {k: v for k, v in keys().items() if k != variable}, "config", "--quiet")
        assert done.returncode != 0, variable
        assert f"required variable {variable} is missing a value" in done.stderr, done.stderr



@needs_go
def test_the_dotenv_command_gives_compose_every_secret_it_demands(tmp_path: Path) -> None:
    """The Docker steps' one command: `python -m infra.dotenv` writes the .env with which Compose renders the whole
    file (no `${VAR:?...}` left unset), and each service gets the value the file holds."""
    from infra.dotenv import OPTIONAL

    env_file = tmp_path / ".env"
    done = subprocess.run([sys.executable, "-m", "infra.dotenv", "--output", str(env_file)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    written = read_env(env_file.read_text())
    text = (ROOT / "compose.yaml").read_text()
    demanded = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    assert demanded - set(written) == set(), "compose demands what the command does not write"
    assert set(written) - demanded == set(OPTIONAL), set(written) - demanded  # nothing compose does not read
    assert set(OPTIONAL) <= set(re.findall(r"\$\{([A-Z0-9_]+):-", text))
    done = compose(tmp_path, {}, "config", "--format", "json", env_file=env_file)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    running = json.loads(done.stdout)["services"]
    for name in ("records", "gateway", "console"):
        assert running[name]["environment"]["DSP_SERVICE_KEY"] == written[f"DSP_SERVICE_KEY_{name.upper()}"]
    for name in CODE_SERVICES:
        environment = running[name]["environment"]
        assert environment["DSP_LOG_PSEUDONYM_KEY"] == written["DSP_LOG_PSEUDONYM_KEY"], name
        assert environment["DSP_KAFKA_PASSWORD"] == written[f"DSP_KAFKA_PASSWORD_{name.upper()}"], name
        assert environment["DSP_MONGO_PASSWORD"] == written[f"DSP_MONGO_PASSWORD_{name.upper()}"], name
    assert running["access"]["environment"]["DSP_ACCESS_AUDIT_SIGNING_KEY"] == written["DSP_ACCESS_AUDIT_SIGNING_KEY"]
    assert running["gateway"]["environment"]["DSP_GATEWAY_PRO_IDP_KEY"] == written["DSP_GATEWAY_PRO_IDP_KEY"]
    assert running["mongo"]["environment"]["MONGO_INITDB_ROOT_PASSWORD"] == written["DSP_MONGO_ROOT_PASSWORD"]
    assert "${" not in done.stdout

@needs_go
def test_healthchecks_use_programs_their_images_have(rendered: dict[str, Any]) -> None:
    # What the official images ship: Kafka's scripts, mongosh in mongo:7, mailpit's own binary, busybox's wget in
    # prom/prometheus and in the Alpine-based grafana/grafana. None of them, nor python:3.11-slim, has curl.
    shipped = {"apache/kafka": "/opt/kafka/bin/kafka-broker-api-versions.sh", "mongo": "mongosh",
               "axllent/mailpit": "/mailpit", "prom/prometheus": "wget", "grafana/grafana": "wget"}
    assert next(args for i, args in dockerfile() if i == "FROM").startswith("python:3.11-slim")
    assert "/opt/venv/bin" in image_env()["PATH"].split(":")
    for name, service in services(rendered).items():
        if "healthcheck" not in service:
            assert name in ("topics", "kafka-access", "demo-laboratory"), f"{name} has no healthcheck"
            continue
        kind, *argv = service["healthcheck"]["test"]
        program = argv[0].split()[0] if kind == "CMD-SHELL" else argv[0]
        if name in ours(rendered):
            assert (kind, program, argv[1]) == ("CMD", "python", "-c"), name
            compile(argv[2], f"{name}-healthcheck", "exec")
            port = SINK_PORT if name == "sms-sink" else int(service["environment"][f"DSP_{name.upper()}_HTTP_PORT"])
            path = "/messages" if name == "sms-sink" else "/health/ready"
            assert f"http://127.0.0.1:{port}{path}" in argv[2], name
        else:
            repository = service["image"].rsplit(":", 1)[0]
            assert program == shipped[repository], (name, program)
    assert ours(rendered)["sms-sink"]["command"][-4:-2] == ["--port", str(SINK_PORT)]
    for name in CODE_SERVICES:
        assert services(rendered)[name]["environment"][f"DSP_{name.upper()}_HTTP_PORT"] == "8080"


@needs_go
def test_kafka_answers_the_containers_and_this_machine_and_keeps_its_data(rendered: dict[str, Any]) -> None:
    kafka = services(rendered)["kafka"]
    env = kafka["environment"]
    listeners = dict(item.split("://") for item in env["KAFKA_LISTENERS"].split(","))
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    protocols = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    host = [name for name, address in advertised.items() if address == "127.0.0.1:19092"]
    assert len(host) == 1, advertised  # the docs' producer example and `make run`'s clients use 127.0.0.1:19092
    assert listeners[host[0]] == ":19092" and protocols[host[0]] == "SASL_PLAINTEXT"  # a login: infra/kafka_acls.py
    assert set(protocols.values()) == {"SASL_PLAINTEXT"} and env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert [(p["host_ip"], p["published"], p["target"]) for p in kafka["ports"]] == [("127.0.0.1", "19092", 19092)]
    inside = [name for name, address in advertised.items() if address == "kafka:9092"]
    assert len(inside) == 1 and listeners[inside[0]] == ":9092"
    for name, service in ours(rendered).items():
        if "DSP_KAFKA_BOOTSTRAP" in reads_of(name, service):  # each Kafka client: workers, topics, the laboratory
            assert service["environment"]["DSP_KAFKA_BOOTSTRAP"] == "kafka:9092", name
    assert "127.0.0.1:19092" in (ROOT / "docs/laboratories.md").read_text()  # the producer example there
    for name, data in (("kafka", env["KAFKA_LOG_DIRS"]), ("mongo", "/data/db")):
        mounts = [v for v in services(rendered)[name]["volumes"] if v["target"] == data]
        assert mounts and mounts[0]["type"] == "volume", name  # kept across `down`, removed by `down -v`
        assert mounts[0]["source"] in rendered["volumes"]


@needs_go
def test_prometheus_scrapes_every_http_service_and_promtool_accepts_its_file(rendered: dict[str, Any]) -> None:
    scrape = yaml.safe_load((ROOT / "infra/prometheus/prometheus.yml").read_text())
    targets = {t for job in scrape["scrape_configs"] for c in job["static_configs"] for t in c["targets"]}
    assert targets == {f"{name}:8080" for name in CODE_SERVICES}  # the gateway's and the console's too
    assert all(job.get("metrics_path", "/metrics") == "/metrics" for job in scrape["scrape_configs"])
    mount = services(rendered)["prometheus"]["volumes"][0]
    assert (mount["source"], mount["target"]) == (str(ROOT / "infra/prometheus/prometheus.yml"),
                                                  "/etc/prometheus/prometheus.yml")
    checked = subprocess.run([str(install(PROMTOOL)), "check", "config", str(ROOT / "infra/prometheus/prometheus.yml")],
                             capture_output=True, text=True, timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


# ---- the image -------------------------------------------------------------------------------------------------

def test_the_image_runs_as_a_user_with_a_home_and_its_own_letters_folder() -> None:
    users = [args for instruction, args in dockerfile() if instruction == "USER"]
    assert users and users[-1] not in ("root", "0"), users
    user = users[-1]
    useradd = next(c for c in run_commands() if c[:1] == ["useradd"])
    assert useradd[-1] == user and "--create-home" in useradd  # `--system` alone makes no home folder
    home = useradd[useradd.index("--home-dir") + 1]
    assert image_env()["HOME"] == home
    install_dir = next(c for c in run_commands() if c[:2] == ["install", "--directory"])
    assert install_dir[install_dir.index("--owner") + 1] == user
    owned = install_dir[-1]
    notify = RAW["services"]["notify"]
    assert notify["environment"]["DSP_NOTIFY_LETTER_DIR"] == owned
    letters = [v for v in notify["volumes"] if v.endswith(f":{owned}")]
    assert letters and letters[0].split(":")[0] in RAW["volumes"]  # a named volume: it starts with the folder's owner
    sink = RAW["services"]["sms-sink"]["command"]
    assert sink[sink.index("--file") + 1].startswith("/tmp/")  # noqa: S108 - writable by anyone in the container


def _selenium_only(lock: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(runtime packages, those reachable only through selenium) from uv.lock, extras followed."""
    packages = {p["name"]: p for p in lock["package"]}

    def requires(name: str) -> list[str]:
        found = []
        for dep in packages[name].get("dependencies", []):
            found.append(dep["name"])
            for extra in dep.get("extra", []):
                found += [d["name"] for d in packages[dep["name"]].get("optional-dependencies", {}).get(extra, [])]
        return found

    def closure(start: list[str]) -> set[str]:
        seen: set[str] = set()
        todo = list(start)
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo += requires(name)
        return seen

    direct = requires("dsp-mesh")
    runtime = closure(direct)
    return runtime, runtime - closure([d for d in direct if d != "selenium"])


def _uv_sync_args() -> list[str]:
    syncs = [c for c in run_commands() if c[:2] == ["uv", "sync"]]
    assert len(syncs) == 1, syncs
    return syncs[0][2:]


def test_the_image_installs_the_runtime_from_the_lock_with_a_pinned_uv_and_no_cache() -> None:
    pip = next(c for c in run_commands() if c[:2] == ["pip", "install"])
    assert "--no-cache-dir" in pip and re.fullmatch(r"uv==\d+\.\d+\.\d+", pip[-1]), pip
    args = _uv_sync_args()
    assert {"--frozen", "--no-dev", "--no-install-project"} <= set(args)
    assert image_env().get("UV_NO_CACHE") == "1" or "--no-cache" in args
    assert ["pip", "uninstall", "--yes", "uv"] in run_commands()
    excluded = {args[i + 1] for i, a in enumerate(args) if a == "--no-install-package"}
    runtime, selenium_only = _selenium_only(tomllib.loads((ROOT / "uv.lock").read_text()))
    assert selenium_only <= excluded, selenium_only - excluded  # selenium (a test tool) and what only it needs
    assert not (excluded & (runtime - selenium_only)), "a package the services need is left out"
    copied = {args.split()[0] for instruction, args in dockerfile() if instruction == "COPY"}
    modules = {s["command"][2].split(".")[0] for s in RAW["services"].values() if s.get("command", [""])[0] == "python"}
    assert modules <= copied, modules - copied  # every `python -m` of compose finds its package in /app
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".git" in ignored  # the sealing key and the history stay out of the build context


def test_the_image_install_step_gives_every_entry_point_and_no_selenium(tmp_path: Path) -> None:
    """The Dockerfile's `uv sync` (same arguments) into a fresh environment: every module compose starts imports."""
    uv = shutil.which("uv") or str(Path.home() / ".local/bin/uv")
    if not Path(uv).exists():
        pytest.skip("uv is not installed (make deps installs it)")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")}
    venv = tmp_path / "venv"
    synced = subprocess.run([uv, "sync", *_uv_sync_args(), "--quiet"], cwd=ROOT, capture_output=True, text=True,
                            env={**env, "UV_PROJECT_ENVIRONMENT": str(venv)}, timeout=600, check=False)
    assert synced.returncode == 0, synced.stderr
    entry = [f"services.{n}.app" for n in CODE_SERVICES] + ["services.kit.sealing", "infra.__main__", "infra.sinks",
                                                            "demo.laboratory"]
    probe = ("import importlib, importlib.util, sys\n"
             f"for m in {entry!r}: importlib.import_module(m)\n"
             "sys.exit(1 if importlib.util.find_spec('selenium') else 0)\n")
    imported = subprocess.run([str(venv / "bin" / "python"), "-c", probe], cwd=ROOT, capture_output=True, text=True,
                              env={**env, "PYTHONDONTWRITEBYTECODE": "1"}, timeout=120, check=False)
    assert imported.returncode == 0, imported.stderr or "selenium is installed"
