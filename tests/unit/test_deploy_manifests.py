"""deploy/, the Kubernetes manifests (issue 28, item 4), held to the Kubernetes API and to the code.

- infra/k8scheck (Go: k8s.io/api v0.37.2, built through the module proxy by `infra.tools`) decodes every manifest
  into the API's own types, unknown fields refused, and checks the rules: it passes deploy/, and refuses each
  broken copy below with its reason (an unknown field, a missing probe, a secret in plain text, a missing PDB ...).
- `python -m infra.k8s_secrets` makes exactly the Secrets and keys deploy/secrets.yaml declares, as objects the
  checker decodes, each credential to its own process, the keypairs' halves matching.
- Each Deployment's environment, resolved as the kubelet resolves it (ConfigMap keys, the generated Secrets, the
  downward API, `$(VAR)` references), loads that service's settings class; it is given nothing it does not read;
  its probes' Host, its Service's name and its pod's address are Hosts it answers (the services' own Host guards,
  called); the URLs the gateway and the console call are Services that exist; the memory requests follow the
  measured VmRSS (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.tools import K8SCHECK, install_local
from services.kit.settings import ServiceSettings
from tests.unit.test_docker_host import image_env, settings_class, variables_read

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CODE_SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/__main__.py"))
WORKERS = ("records", "activation", "access", "notify")
# Variables given ahead of the code that reads them (work in flight, named in deploy/secrets.yaml): allowed unread.
POD_IP = "10.1.2.3"


# ---- reading the manifests -------------------------------------------------------------------------------------

def documents(folder: Path = DEPLOY) -> list[dict[str, Any]]:
    return [doc for path in sorted(folder.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents() if d["kind"] == kind}


def container(workload: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, workload["metadata"]["name"]
    return containers[0]


def workloads() -> dict[str, dict[str, Any]]:
    return {**of_kind("Deployment"), **of_kind("Job")}


def expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes' `$(VAR)`: a variable defined earlier in the list; any other reference stays as written."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m[1], m[0]), value)


def resolve(workload: dict[str, Any], secrets: dict[str, dict[str, str]], configmaps: dict[str, dict[str, str]],
            ) -> dict[str, str]:
    """A container's environment as the kubelet builds it, in order."""
    pod = {"status.podIP": POD_IP, "metadata.name": f"{workload['metadata']['name']}-7d9f8b6c5-x2x4q"}
    env: dict[str, str] = {}
    for entry in container(workload).get("env", []):
        source = entry.get("valueFrom")
        if source is None:
            env[entry["name"]] = expand(entry["value"], env)
        elif "fieldRef" in source:
            env[entry["name"]] = pod[source["fieldRef"]["fieldPath"]]
        elif "secretKeyRef" in source:
            env[entry["name"]] = secrets[source["secretKeyRef"]["name"]][source["secretKeyRef"]["key"]]
        else:
            env[entry["name"]] = configmaps[source["configMapKeyRef"]["name"]][source["configMapKeyRef"]["key"]]
    return env


# ---- the checker ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def checker() -> Path:
    if shutil.which("go") is None:
        raise AssertionError("Go (>= 1.26) builds infra/k8scheck: install it (CI has it)")
    return install_local(K8SCHECK)


def check(checker: Path, folder: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(checker), *flags, str(folder)], capture_output=True, text=True, timeout=60,
                          check=False)


def test_the_checker_passes_deploy(checker: Path) -> None:
    done = check(checker, DEPLOY)
    assert done.returncode == 0, done.stdout + done.stderr
    objects = [d for d in documents() if d["kind"] != "Kustomization"]
    files = len(list(DEPLOY.glob("*.yaml")))
    assert done.stdout.strip() == (f"k8scheck: {len(objects)} objects in {files} files under {DEPLOY}: decoded "
                                   "strictly, every rule holds")
    assert sorted(of_kind("Deployment")) == CODE_SERVICES  # one per process the mesh runs
    assert set(of_kind("Job")) == {"topics"}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not in {path.name} exactly once"
    path.write_text(text.replace(old, new))


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def cut(path: Path, start: str, end: str) -> None:
    """Remove from `start` (included) to `end` (excluded, or the end of the file if empty)."""
    text = path.read_text()
    i = text.index(start)
    j = text.index(end, i) if end else len(text)
    path.write_text(text[:i] + text[j:])


SECRET_REF = """            - name: DSP_ACTIVATION_CODE_KEY
              valueFrom:
                secretKeyRef:
                  name: activation
                  key: DSP_ACTIVATION_CODE_KEY
"""
LIVENESS = """          livenessProbe:  # the event loop answers: a minute without an answer restarts it
            httpGet:
              path: /health/live"""
NGINX_INGRESS = """---
apiVersion: networking.k8s.io/v1beta1
kind: Ingress
metadata:
  name: portal
"""

BROKEN: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "an unknown field (a letter's case)": (
        lambda d: edit(d / "records.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true"),
        ['records.yaml: Deployment records: unknown field '
         '"spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem"',
         "records.yaml: Deployment records: container records can write its root filesystem"]),
    "a field in the wrong place": (
        lambda d: edit(d / "topics.yaml", "  backoffLimit: 6\n", "  backoffLimit: 6\n  replicas: 2\n"),
        ['topics.yaml: Job topics: unknown field "spec.replicas"']),
    "a key given twice": (
        lambda d: edit(d / "settings.yaml", "  DSP_LOG_LEVEL: INFO\n",
                       "  DSP_LOG_LEVEL: INFO\n  DSP_LOG_LEVEL: DEBUG\n"),
        ["settings.yaml: document 1: ConfigMap: yaml: unmarshal errors: ", 'key "DSP_LOG_LEVEL" already set in map',
         # and so every variable read from it has no ConfigMap to come from
         "comes from ConfigMap dsp-settings, which no manifest under the folder defines"]),
    "a kind the checker does not know": (
        lambda d: append(d / "network-policies.yaml", NGINX_INGRESS),
        ['network-policies.yaml: document 8: apiVersion "networking.k8s.io/v1beta1" kind "Ingress" is not a kind '
         "this checker knows"]),
    "a missing readiness probe": (
        lambda d: cut(d / "gateway.yaml", "          readinessProbe:", "          livenessProbe:"),
        ["gateway.yaml: Deployment gateway: container gateway has no readinessProbe (GET /health/ready)"]),
    "a liveness probe on the readiness path": (
        lambda d: edit(d / "access.yaml", LIVENESS, LIVENESS.replace("/health/live", "/health/ready")),
        ['access.yaml: Deployment access: container access: livenessProbe asks "/health/ready", not /health/live']),
    "a secret in plain text": (
        lambda d: edit(d / "activation.yaml", SECRET_REF, "            - name: DSP_ACTIVATION_CODE_KEY\n"
                                                          "              value: 3f1c0e4a9b7d2e6f8a5c1b0d9e7f6a4c\n"),
        ["activation.yaml: Deployment activation: container activation: DSP_ACTIVATION_CODE_KEY has a plain-text "
         "value: a credential comes from a Secret (secretKeyRef)"]),
    "a secret value committed": (
        lambda d: edit(d / "secrets.yaml", 'DSP_NOTIFY_SEAL_KEY: ""', 'DSP_NOTIFY_SEAL_KEY: "c2VjcmV0LXNlYWwta2V5"'),
        ["secrets.yaml: Secret notify: carries a value for DSP_NOTIFY_SEAL_KEY: no secret value is committed"]),
    "a credential in the ConfigMap": (
        lambda d: edit(d / "settings.yaml", "  DSP_LOG_JSON:", "  DSP_NOTIFY_SMS_TOKEN: s3cr3t-t0ken-v4lue\n"
                                                            "  DSP_LOG_JSON:"),
        ["settings.yaml: ConfigMap dsp-settings: holds DSP_NOTIFY_SMS_TOKEN, a credential: it belongs in a Secret"]),
    "a password in the MongoDB URI": (
        lambda d: edit(d / "settings.yaml", "mongodb://mongo-1", "mongodb://records:hunter2@mongo-1"),
        ["settings.yaml: ConfigMap dsp-settings: DSP_MONGO_URI is a URI with a password in it"]),
    "a Secret key nobody declared": (
        lambda d: edit(d / "secrets.yaml", '  DSP_GATEWAY_PORTAL_KEY: ""', "  "),
        ["gateway.yaml: Deployment gateway: container gateway: DSP_GATEWAY_PORTAL_KEY comes from key "
         "DSP_GATEWAY_PORTAL_KEY of Secret gateway, which that Secret does not declare"]),
    "a missing PodDisruptionBudget": (
        lambda d: cut(d / "console.yaml", "---\napiVersion: policy/v1", ""),
        ["console.yaml: Deployment console: is selected by 0 PodDisruptionBudgets (one, exactly)"]),
    "one replica": (
        lambda d: edit(d / "notify.yaml", "  replicas: 2\n", "  replicas: 1\n"),
        ["notify.yaml: Deployment notify: runs fewer than 2 replicas (spec.replicas)",
         "notify.yaml: Deployment notify: its PodDisruptionBudget notify keeps minAvailable 1 of 1 replicas"]),
    "no memory limit": (
        lambda d: edit(d / "records.yaml", "              memory: 192Mi\n", ""),
        ["records.yaml: Deployment records: container records has no memory limit"]),
    "a pod as root": (
        lambda d: edit(d / "topics.yaml", "runAsUser: 10001", "runAsUser: 0"),
        ["topics.yaml: Job topics: container topics runs as user 0"]),
    "a Service on a port nothing exposes": (
        lambda d: edit(d / "gateway.yaml", "      port: 8100\n      targetPort: http", "      port: 8100\n"
                                                                                   "      targetPort: web"),
        ["gateway.yaml: Service gateway: port 8100 targets web, which no container of Deployment gateway exposes"]),
    "a manifest kustomize would never apply": (
        lambda d: edit(d / "kustomization.yaml", "  - topics.yaml\n", ""),
        ["topics.yaml: Job topics: is in a file no kustomization lists: kubectl apply -k would never apply it"]),
    "the Secrets as kustomize resources": (
        lambda d: edit(d / "kustomization.yaml", "  - settings.yaml\n", "  - settings.yaml\n  - secrets.yaml\n"),
        ["secrets.yaml: Secret {name}: is a kustomize resource: kubectl apply would own it and empty it"]),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_the_checker_refuses_a_broken_copy_with_the_reason(checker: Path, tmp_path: Path, case: str) -> None:
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    mutate, reasons = BROKEN[case]
    mutate(copy)
    done = check(checker, copy)
    assert done.returncode == 1, done.stdout + done.stderr
    *problems, summary = done.stdout.rstrip("\n").split("\n")
    assert re.fullmatch(rf"k8scheck: \d+ problem\(s\) in {re.escape(str(copy))}", summary), summary
    names = "(" + "|".join(of_kind("Secret")) + ")"
    patterns = [re.escape(reason).replace(re.escape("{name}"), names) for reason in reasons]
    for pattern in patterns:
        assert any(re.search(pattern, line) for line in problems), f"{case}: no problem says {pattern!r}:\n" + \
            "\n".join(problems)
    for line in problems:  # and nothing else is refused
        assert any(re.search(pattern, line) for pattern in patterns), f"{case}: also refused: {line}"


# ---- the Secrets generator -------------------------------------------------------------------------------------

def run_generator(tmp: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("DSP_KAFKA_ADMIN_PASSWORD", "DSP_NOTIFY_SMS_TOKEN",
                                                             "DSP_GATEWAY_PRO_IDP_KEY")}
    return subprocess.run([sys.executable, "-m", "infra.k8s_secrets", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False, env={**clean, **(env or {})})


def items(done: subprocess.CompletedProcess[str]) -> dict[tuple[str, str], dict[str, Any]]:
    made = json.loads(done.stdout)
    assert (made["apiVersion"], made["kind"]) == ("v1", "List")
    return {(i["kind"], i["metadata"]["name"]): i for i in made["items"]}


def test_the_generator_makes_exactly_the_declared_secrets_once(checker: Path, tmp_path: Path) -> None:
    admins = tmp_path / "admins.env"
    done = run_generator(tmp_path, "--admin-env", str(admins))
    assert done.returncode == 0, done.stderr
    made = items(done)
    namespace = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["namespace"]
    declared = {(d["kind"], d["metadata"]["name"]): d
                for d in yaml.safe_load_all((DEPLOY / "secrets.yaml").read_text())}
    assert set(made) == set(declared)
    values: list[str] = []
    for key, want in declared.items():
        got = made[key]
        assert got["metadata"] == {**want["metadata"], "namespace": namespace}, key
        field = "stringData" if key[0] == "Secret" else "data"
        assert got.get("type") == want.get("type") and set(got[field]) == set(want[field]), key
        assert all(v == "" for v in want[field].values()), key  # the declaration carries no value
        assert all(isinstance(v, str) and len(v) >= 16 for v in got[field].values()), key
        values += got[field].values() if key[0] == "Secret" else []
    assert len(set(values)) == len(values)  # every secret its own
    assert not any(v in done.stderr for v in values)  # the terminal shows names only
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "generated.yaml").write_text(done.stdout)
    decoded = check(checker, tmp_path / "out", "-decode-only")
    assert decoded.returncode == 0 and f"k8scheck: {len(declared)} objects" in decoded.stdout, decoded.stdout
    # the admins' file: each Kafka principal's and MongoDB user's password, the ones the Secrets hold; mode 600
    from infra.ferretdb import MONGO_SERVICES
    from infra.kafka_acls import PRINCIPALS

    assert stat.S_IMODE(admins.stat().st_mode) == 0o600
    lines = dict(line.split("=", 1) for line in admins.read_text().splitlines())
    assert set(lines) == {f"DSP_KAFKA_PASSWORD_{p.upper()}" for p in PRINCIPALS} | {
        f"DSP_MONGO_PASSWORD_{s.upper()}" for s in MONGO_SERVICES}
    for name in CODE_SERVICES:
        secret = made[("Secret", name)]["stringData"]
        assert lines[f"DSP_KAFKA_PASSWORD_{name.upper()}"] == secret["DSP_KAFKA_PASSWORD"]
        assert lines[f"DSP_MONGO_PASSWORD_{name.upper()}"] == secret["DSP_MONGO_PASSWORD"]
    before = admins.read_bytes()
    again = run_generator(tmp_path, "--admin-env", str(admins))
    assert again.returncode == 2 and again.stdout == "" and "not overwritten" in again.stderr
    assert admins.read_bytes() == before


def test_the_generator_takes_what_another_party_holds_from_the_environment(tmp_path: Path) -> None:
    given = {"DSP_KAFKA_ADMIN_PASSWORD": "the-kafka-admins-password-1",
             "DSP_NOTIFY_SMS_TOKEN": "the-sms-providers-token",
             "DSP_GATEWAY_PRO_IDP_KEY": "shared-with-the-identity-provider"}
    first, second = items(run_generator(tmp_path, env=given)), items(run_generator(tmp_path, "--namespace", "dsp-x"))
    assert first[("Secret", "kafka-admin")]["stringData"]["DSP_KAFKA_PASSWORD"] == given["DSP_KAFKA_ADMIN_PASSWORD"]
    assert first[("Secret", "notify")]["stringData"]["DSP_NOTIFY_SMS_TOKEN"] == given["DSP_NOTIFY_SMS_TOKEN"]
    assert first[("Secret", "gateway")]["stringData"]["DSP_GATEWAY_PRO_IDP_KEY"] == given["DSP_GATEWAY_PRO_IDP_KEY"]
    assert {i["metadata"]["namespace"] for i in second.values()} == {"dsp-x"}
    for key, item in second.items():  # without them, and on every run, every value is new
        if key[0] == "Secret":
            assert not set(item["stringData"].values()) & set(first[key]["stringData"].values()), key


def test_the_keypairs_halves_match(tmp_path: Path) -> None:
    from services.kit.sealing import public_key_of
    from services.kit.servicetokens import parse_public_keys, private_key, public_b64

    made = items(run_generator(tmp_path))
    public = made[("ConfigMap", "dsp-public-keys")]["data"]
    keys = parse_public_keys(public["DSP_SERVICE_PUBLIC_KEYS"])
    assert sorted(keys) == CODE_SERVICES
    for name in CODE_SERVICES:
        seed = made[("Secret", name)]["stringData"]["DSP_SERVICE_KEY"]
        assert public_b64(private_key(seed)) == public["DSP_SERVICE_PUBLIC_KEYS"].split(f"{name}=")[1].split(",")[0]
    assert public_key_of(made[("Secret", "notify")]["stringData"]["DSP_NOTIFY_SEAL_KEY"]) == \
        public["DSP_NOTIFY_PUBLIC_KEY"]
    assert len(base64.b64decode(made[("Secret", "access")]["stringData"]["DSP_ACCESS_AUDIT_SIGNING_KEY"])) == 32


# ---- the manifests against the code -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """(Secrets, ConfigMaps) by name, as the cluster holds them once infra.k8s_secrets' output is created."""
    made = items(run_generator(tmp_path_factory.mktemp("secrets")))
    secrets = {name: item["stringData"] for (kind, name), item in made.items() if kind == "Secret"}
    configmaps = {name: d["data"] for name, d in of_kind("ConfigMap").items()}
    configmaps["dsp-public-keys"] = made[("ConfigMap", "dsp-public-keys")]["data"]
    return secrets, configmaps


def http_status(app: Any, host: str) -> int:
    """What the service's own Host guard answers a GET with this Host (the app behind it answers 200)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/health/live", "raw_path": b"/health/live", "query_string": b"", "root_path": "",
             "headers": [(b"host", host.encode())], "client": ("10.1.9.9", 40000), "server": (POD_IP, 8080)}
    asyncio.run(app(scope, receive, send))
    return int(next(m["status"] for m in sent if m["type"] == "http.response.start"))


async def ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def guarded(name: str, settings: Any) -> Any:
    """The service's app behind the Host check it runs in production."""
    if name == "gateway":
        from services.gateway.problems import TrustedHosts

        return TrustedHosts(ok, allowed_hosts=sorted(settings.hosts))
    if name == "console":
        from services.console.web.guard import Guard, allowed_hosts

        return Guard(ok, hosts=allowed_hosts(settings.allowed_hosts, settings.http_port))
    from services.kit.http import hosts_only

    return hosts_only(ok, settings.hosts)


@pytest.mark.parametrize("name", CODE_SERVICES)
def test_each_deployment_gives_its_service_what_it_reads_and_it_loads(
        name: str, generated: tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    deployment = of_kind("Deployment")[name]
    main = container(deployment)
    assert main["command"] == ["python", "-m", f"services.{name}"]
    assert (main["image"], main["imagePullPolicy"]) == ("dsp-mesh:local", "IfNotPresent")
    env = resolve(deployment, *generated)
    assert not [v for v in env.values() if "$(" in v], env  # every reference defined before its use
    given = {k: v for k, v in env.items() if k.startswith("DSP_")}
    cls: type[ServiceSettings] = settings_class(name)
    read = variables_read(cls)
    unread = set(given) - set(read)
    assert not unread, f"{name} is given {sorted(unread)}, which it never reads"
    image = {k: v for k, v in image_env().items() if k.startswith("DSP_")}
    missing = {v for v, required in read.items() if required} - set(given) - set(image)
    assert not missing, f"{name} needs {sorted(missing)}"
    for key in list(os.environ):
        if key.startswith("DSP_"):
            monkeypatch.delenv(key)
    for key, value in {**image, **given}.items():
        monkeypatch.setenv(key, value)
    settings: Any = cls()  # raises on a missing or malformed variable (a key's format, a keypair's halves ...)
    assert settings.kafka_security_protocol == "SASL_SSL" and settings.kafka_username == name
    assert "replicaSet=" in settings.mongo_uri and "tls=true" in settings.mongo_uri
    assert settings.mongo_username == name and settings.mongo_password is not None
    assert settings.service_key is not None and settings.signer().service == name
    port = main["ports"][0]
    assert (port["name"], port["containerPort"]) == ("http", settings.http_port)
    app = guarded(name, settings)
    probes = [main[p]["httpGet"] for p in ("startupProbe", "readinessProbe", "livenessProbe")]
    for probe in probes:
        assert probe["port"] == "http"
        host = {h["name"]: h["value"] for h in probe["httpHeaders"]}["Host"]
        assert http_status(app, host) == 200, (name, host)  # the kubelet's probe is answered
        assert http_status(app, f"{host}:8080") == 200, (name, host)
    assert http_status(app, "portal.attacker.example") == 400  # the guard is on
    if name in WORKERS:  # the gateway's and the console's calls (Host: records:8080 ...) and a metrics scraper
        assert settings.service_public_keys and http_status(app, f"{name}:8080") == 200
        assert http_status(app, f"{POD_IP}:8080") == 200
    public = {"gateway": "PORTAL_HOST", "console": "CONSOLE_HOST"}.get(name)
    if public:  # the public name, through the ingress
        assert http_status(app, generated[1]["dsp-settings"][public]) == 200
    if name == "console":  # kubectl port-forward svc/console 8105
        assert http_status(app, "127.0.0.1:8105") == 200
    if name == "notify":  # its letters in its own folder of the shared volume
        mounts = {m["name"]: m["mountPath"] for m in main["volumeMounts"]}
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        assert str(settings.letter_dir) == f"{mounts['letters']}/{name}-7d9f8b6c5-x2x4q"
        claim = volumes["letters"]["persistentVolumeClaim"]["claimName"]
        assert of_kind("PersistentVolumeClaim")[claim]["spec"]["accessModes"] == ["ReadWriteMany"]


def test_the_gateway_and_the_console_call_services_that_exist(
        generated: tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]) -> None:
    services = of_kind("Service")
    gateway = resolve(of_kind("Deployment")["gateway"], *generated)
    console = resolve(of_kind("Deployment")["console"], *generated)
    called = {f"gateway -> {k[12:-4].lower()}": v for k, v in gateway.items()
              if re.fullmatch(r"DSP_GATEWAY_\w+_URL", k)}
    called |= {f"console -> {pair.split('=')[0]}": pair.split("=", 1)[1]
               for pair in console["DSP_CONSOLE_WORKER_URLS"].split(",")}
    assert sorted(called) == sorted([f"gateway -> {w}" for w in WORKERS] + [f"console -> {w}" for w in WORKERS])
    for who, url in called.items():
        host, port = re.fullmatch(r"http://([a-z-]+):(\d+)", url).groups()  # type: ignore[union-attr]
        assert who.endswith(host), who
        service = services[host]
        assert int(port) in [p["port"] for p in service["spec"]["ports"]], who
        assert service["spec"]["selector"]["app.kubernetes.io/name"] == host
    assert [p["port"] for p in services["gateway"]["spec"]["ports"]] == [8100]
    assert [p["port"] for p in services["console"]["spec"]["ports"]] == [8105]


def test_each_secret_goes_only_to_the_process_that_needs_it() -> None:
    readers: dict[tuple[str, str], set[str]] = {}
    for name, workload in workloads().items():
        for entry in container(workload).get("env", []):
            ref = entry.get("valueFrom", {}).get("secretKeyRef") or entry.get("valueFrom", {}).get("configMapKeyRef")
            if ref:
                readers.setdefault((ref["name"], ref["key"]), set()).add(name)
    for name, secret in of_kind("Secret").items():
        for key in secret["stringData"]:
            want = set(CODE_SERVICES) if name == "log-pseudonym" else {"topics"} if name == "kafka-admin" else {name}
            assert readers.get((name, key)) == want, (name, key)  # and no declared key is left unused
    assert readers[("dsp-public-keys", "DSP_SERVICE_PUBLIC_KEYS")] == set(WORKERS)  # who checks its callers
    assert readers[("dsp-public-keys", "DSP_NOTIFY_PUBLIC_KEY")] == {"activation", "access", "notify"}


def test_the_topics_job_runs_compose_s_command_as_the_admin(
        generated: tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]) -> None:
    from infra.__main__ import KAFKA_VARIABLES

    job = of_kind("Job")["topics"]
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["topics"]
    assert container(job)["command"] == compose["command"] == ["python", "-m", "infra", "topics"]
    env = resolve(job, *generated)
    assert set(env) == set(KAFKA_VARIABLES)  # what `python -m infra topics` reads, nothing else
    assert env["DSP_KAFKA_USERNAME"] == generated[1]["dsp-settings"]["DSP_KAFKA_ADMIN_USERNAME"]
    assert env["DSP_KAFKA_PASSWORD"] == generated[0]["kafka-admin"]["DSP_KAFKA_PASSWORD"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"


def test_pods_run_as_the_images_user() -> None:
    useradd = next(line for line in (ROOT / "Dockerfile").read_text().splitlines() if "useradd" in line).split()
    uid = int(useradd[useradd.index("--uid") + 1])
    for name, workload in workloads().items():
        pod = workload["spec"]["template"]["spec"]["securityContext"]
        assert (pod["runAsUser"], pod["runAsGroup"], pod["runAsNonRoot"]) == (uid, uid, True), name
        mounts = {m["mountPath"] for m in container(workload)["volumeMounts"]}
        assert "/tmp" in mounts, name  # noqa: S108 - the one writable folder of a read-only root (Python's temporary files)


def test_memory_requests_follow_the_measured_rss() -> None:
    readme = (ROOT / "docs/benchmarks.md").read_text()
    sentence = re.search(r"Each worker's resident memory under `make run`.*?\(goal", readme, re.S)
    assert sentence, "the VmRSS figures in docs/benchmarks.md"
    measured = {name: int(mib) for name, mib in re.findall(r"\b([a-z]+) (\d+)\b", sentence[0])}
    assert sorted(measured) == CODE_SERVICES, measured

    def mib(quantity: str) -> int:
        number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
        return int(number) * (1024 if unit == "Gi" else 1)

    for name, deployment in of_kind("Deployment").items():
        resources = container(deployment)["resources"]
        request, limit = mib(resources["requests"]["memory"]), mib(resources["limits"]["memory"])
        assert measured[name] <= request <= measured[name] * 1.25, (name, measured[name], request)
        assert limit >= 1.5 * request, (name, request, limit)  # headroom above what it holds at rest


def test_the_checker_builds_from_the_repository_alone(checker: Path) -> None:
    folder = ROOT / K8SCHECK.folder
    assert {p.name for p in folder.iterdir()} >= {"go.mod", "go.sum", "main.go"}
    go_mod = (folder / "go.mod").read_text()
    pinned = (("k8s.io/api", "v0.37.2"), ("k8s.io/apimachinery", "v0.37.2"), ("sigs.k8s.io/yaml", "v1.6.0"))
    for module, version in pinned:
        assert f"\t{module} {version}\n" in go_mod, module
    assert checker.name == f"k8scheck-{K8SCHECK.digest()}" and not checker.resolve().is_relative_to(ROOT)
    t0 = time.monotonic()
    assert install_local(K8SCHECK) == checker and time.monotonic() - t0 < 1  # built once, then found
