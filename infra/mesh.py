"""`python -m infra run`: the whole mesh on this machine — infrastructure, every worker, a demo laboratory."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from . import fleet
from .local import LocalInfra
from .procs import read_pid, spawn, stop

ROOT = Path(__file__).resolve().parents[1]
WORKERS = {name: int(os.environ.get(f"DSP_{name.upper()}_HTTP_PORT", port))
           for name, port in {"records": 8101, "activation": 8102, "access": 8103, "notify": 8104}.items()}
SMTP_PORT = int(os.environ.get("DSP_SMTP_SINK_PORT", 2525))
SMS_PORT = int(os.environ.get("DSP_SMS_SINK_PORT", 8125))
SINKS = ["smtp-sink", "sms-sink"]
GATEWAY_PORT = int(os.environ.get("DSP_GATEWAY_HTTP_PORT", 8100))
CONSOLE_PORT = int(os.environ.get("DSP_CONSOLE_HTTP_PORT", 8105))
PROCESSES = [*WORKERS, "gateway", "console", "demo-laboratory", *SINKS]
# `make run REPLICAS=n` (infra.fleet): HAProxy on the ports above, n replicas of each service on ports of their own
FRONTS = {"gateway": GATEWAY_PORT, **WORKERS, "console": CONSOLE_PORT}


def _key(infra: LocalInfra, name: str) -> str:
    """A secret generated once and kept (mode 600) in the state folder."""
    key_file = infra.state_dir / f"{name}.key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _seal_keys(infra: LocalInfra) -> tuple[str, str]:
    """notify's sealing keypair (private, public), generated once and kept in the state folder (the private key
    mode 600)."""
    from services.kit.sealing import new_keypair, public_key_of

    key_file, pub_file = infra.state_dir / "notify-seal.key", infra.state_dir / "notify-seal.pub"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        private, _ = new_keypair()
        key_file.touch(mode=0o600)
        key_file.chmod(0o600)
        key_file.write_text(private)
    private = key_file.read_text().strip()
    public = public_key_of(private)
    if not pub_file.exists() or pub_file.read_text().strip() != public:
        pub_file.write_text(public)
    return private, public


def _fhir_clients(infra: LocalInfra) -> Path:
    """The demo practice's software registered at the FHIR API (`demo.fhir_client`: its key in the state folder)."""
    from demo.fhir_client import registry

    return registry(infra.state_dir)


def mesh_env(infra: LocalInfra) -> dict[str, str]:
    """Environment of every worker; the keys are generated once and kept in the state folder. notify's private
    sealing key is not in it (see `worker_env`): only its public half, which every producer seals to."""
    env = {**infra.env, "DSP_LOG_PSEUDONYM_KEY": _key(infra, "log-pseudonym"),
           "DSP_ACTIVATION_CODE_KEY": _key(infra, "activation-code"),
           "DSP_NOTIFY_PUBLIC_KEY": _seal_keys(infra)[1], "DSP_SERVICE_PUBLIC_KEYS": _public_keys(infra),
           "DSP_GATEWAY_PRO_IDP_KEY": _key(infra, "professional-idp"), "DSP_LOG_JSON": "true",
           "DSP_GATEWAY_FHIR_CLIENTS_FILE": str(_fhir_clients(infra)),
           "DSP_GATEWAY_PORTAL_KEY": _key(infra, "gateway-portal"),  # the same on every gateway replica
           "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    env.update({f"DSP_{name.upper()}_HTTP_PORT": str(port) for name, port in WORKERS.items()})
    env.update({"DSP_GATEWAY_HTTP_PORT": str(GATEWAY_PORT),
                "DSP_GATEWAY_ACTIVATION_URL": f"http://127.0.0.1:{WORKERS['activation']}",
                "DSP_GATEWAY_ACCESS_URL": f"http://127.0.0.1:{WORKERS['access']}",
                "DSP_GATEWAY_RECORDS_URL": f"http://127.0.0.1:{WORKERS['records']}",
                "DSP_GATEWAY_NOTIFY_URL": f"http://127.0.0.1:{WORKERS['notify']}",
                "DSP_GATEWAY_SECURE_COOKIES": "false",  # explicitly local: the portal is plain HTTP on loopback
                "DSP_CONSOLE_HTTP_PORT": str(CONSOLE_PORT),
                "DSP_CONSOLE_SECURE_COOKIES": "false",  # explicitly local: the console is plain HTTP on loopback
                "DSP_CONSOLE_WORKER_URLS": ",".join(f"{n}=http://127.0.0.1:{p}" for n, p in WORKERS.items())})
    env.update({"DSP_NOTIFY_SMTP_PORT": str(SMTP_PORT), "DSP_NOTIFY_SMS_URL": f"http://127.0.0.1:{SMS_PORT}/sms",
                "DSP_NOTIFY_LETTER_DIR": str(infra.state_dir / "letters")})
    return {**env, **{k: v for k, v in os.environ.items() if k.startswith("DSP_") and k not in (
        "DSP_KAFKA_BOOTSTRAP", "DSP_MONGO_URI", "DSP_MONGO_USERNAME", "DSP_MONGO_PASSWORD", *KAFKA_OWN)}}


SERVICES = ("gateway", "console", "access", "activation", "records", "notify")
# each process has its own Kafka principal: a shell's DSP_KAFKA_USERNAME/... is not passed on to all of them
KAFKA_OWN = ("DSP_KAFKA_USERNAME", "DSP_KAFKA_PASSWORD", "DSP_KAFKA_SECURITY_PROTOCOL", "DSP_KAFKA_SASL_MECHANISM")


def _service_keys(infra: LocalInfra) -> dict[str, str]:
    """Each service's Ed25519 key for service-to-service calls, generated once (mode 600) in the state folder."""
    from services.kit.servicetokens import new_key

    keys = {}
    for name in SERVICES:
        key_file = infra.state_dir / "service-keys" / f"{name}.key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.touch(mode=0o600)
            key_file.chmod(0o600)
            key_file.write_text(new_key()[0])
        keys[name] = key_file.read_text().strip()
    return keys


def _audit_signing_key(infra: LocalInfra) -> str:
    """access's Ed25519 audit signing key (checkpoints, exported trails), generated once (mode 600) like the service
    keys; its public half is published by the gateway (`GET /v1/audit/public-key`)."""
    from services.kit.servicetokens import new_key

    key_file = infra.state_dir / "access-audit-signing.key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.touch(mode=0o600)
        key_file.chmod(0o600)
        key_file.write_text(new_key()[0])
    return key_file.read_text().strip()


def _public_keys(infra: LocalInfra) -> str:
    from services.kit.servicetokens import private_key, public_b64

    return ",".join(f"{name}={public_b64(private_key(seed))}" for name, seed in _service_keys(infra).items())


def kafka_env(infra: LocalInfra, name: str) -> dict[str, str]:
    """The process's own Kafka principal (`infra.kafka_acls`); the demo laboratory has three: the laboratory,
    the registry and the directory whose messages it sends (and its laboratories' signing keys, generated once in
    the state folder's `lab-keys/`)."""
    if name in SERVICES:
        return infra.kafka.client_env(name)
    if name != "demo-laboratory":
        return {}
    env = {k: v for k, v in infra.kafka.client_env("laboratory").items() if "USERNAME" not in k and "PASSWORD" not in k}
    env["DSP_DEMO_LAB_KEY_DIR"] = str(infra.state_dir / "lab-keys")
    for principal in ("laboratory", "registry", "directory"):
        env[f"DSP_{principal.upper()}_KAFKA_USERNAME"] = principal
        env[f"DSP_{principal.upper()}_KAFKA_PASSWORD"] = infra.kafka.password(principal)
    return env


def worker_env(infra: LocalInfra, name: str, env: dict[str, str]) -> dict[str, str]:
    """One process's environment: its own service key and MongoDB user; notify alone gets its private sealing key,
    access alone its audit keys."""
    own = {"DSP_SERVICE_KEY": _service_keys(infra)[name], **infra.ferret.credentials(name)} if name in SERVICES else {}
    own = {**kafka_env(infra, name), **own}  # and its own Kafka principal
    if name == "access":
        own.update({"DSP_ACCESS_AUDIT_KEY": _key(infra, "access-audit"),
                    "DSP_ACCESS_AUDIT_SIGNING_KEY": _audit_signing_key(infra)})
    if name != "notify":
        return {**own, **env}
    return {"DSP_NOTIFY_SEAL_KEY": _seal_keys(infra)[0], **own, **env}


CONSOLE_OPERATOR = "operator"


def console_operator(infra: LocalInfra, env: dict[str, str]) -> Path | None:
    """The local console operator (role replayer), created once with a generated password kept (mode 600) in the
    state folder; the password file, or None (with the reason printed) if the console's database refused."""
    password = infra.state_dir / "console-operator.password"
    fresh = not password.exists()
    if fresh:
        password.parent.mkdir(parents=True, exist_ok=True)
        password.touch(mode=0o600)
        password.chmod(0o600)
        password.write_text(secrets.token_urlsafe(18) + "\n")
    made = subprocess.run(  # noqa: S603 - argv is built here, never from input
        [sys.executable, "-m", "services.console", "add-operator", CONSOLE_OPERATOR, "--role", "replayer",
         "--password-file", str(password), "--replace" if fresh else "--if-missing"],
        env={**os.environ, **worker_env(infra, "console", env)}, capture_output=True, text=True, timeout=120,
        check=False)
    if made.returncode != 0:
        print(f"[mesh] console operator not created: {made.stderr.strip()}", flush=True)
        return None
    return password


def start(infra: LocalInfra, demo: bool = True, replicas: int = 1) -> None:
    """Every process not running yet; `replicas` > 1: that many of each service and HAProxy in front
    (`infra.fleet`)."""
    run_dir = infra.state_dir / "run"
    env = mesh_env(infra)
    sinks = {"smtp-sink": ["smtp", "--port", str(SMTP_PORT), "--maildir", str(infra.state_dir / "maildir")],
             "sms-sink": ["sms", "--port", str(SMS_PORT), "--file", str(infra.state_dir / "sms.jsonl")]}
    for name, args in sinks.items():  # notify's outside world: a real SMTP server and an HTTP SMS gateway
        if read_pid(run_dir / f"{name}.pid") is None:
            spawn(name, [sys.executable, "-m", "infra.sinks", *args], run_dir, env=env)
    if replicas > 1:
        ports = fleet.replica_ports(replicas, fleet.port_base())
        config = fleet.write_config(infra.state_dir, FRONTS, ports)
        for service in (*WORKERS, "gateway", "console"):
            for replica in range(1, replicas + 1):
                start_replica(infra, service, replica, ports, env)
        if read_pid(run_dir / "haproxy.pid") is None:
            spawn("haproxy", [fleet.haproxy_binary(), "-db", "-f", str(config)], run_dir)
    else:
        for name in (*WORKERS, "gateway", "console"):
            if read_pid(run_dir / f"{name}.pid") is None:
                spawn(name, [sys.executable, "-m", f"services.{name}"], run_dir, env=worker_env(infra, name, env))
    if demo and read_pid(run_dir / "demo-laboratory.pid") is None:
        spawn("demo-laboratory", [sys.executable, "-m", "demo.laboratory", "--interval", "2"], run_dir,
              env=worker_env(infra, "demo-laboratory", env))


def start_replica(infra: LocalInfra, service: str, replica: int, ports: dict[str, list[int]],
                  env: dict[str, str] | None = None) -> int | None:
    """Replica `replica` (1-based) of `service` on its own port, unless it runs; its pid (None: it was running).
    The gateways and the console keep reaching the services through the load balancer's ports (`mesh_env`)."""
    run_dir = infra.state_dir / "run"
    name = fleet.replica_name(service, replica)
    if read_pid(run_dir / f"{name}.pid") is not None:
        return None
    own = {f"DSP_{service.upper()}_HTTP_PORT": str(ports[service][replica - 1])}
    if service == "console":  # it answers the load balancer's Host too (127.0.0.1:8105)
        own["DSP_CONSOLE_ALLOWED_HOSTS"] = f"127.0.0.1,localhost,127.0.0.1:{CONSOLE_PORT},localhost:{CONSOLE_PORT}"
    full = {**worker_env(infra, service, env if env is not None else mesh_env(infra)), **own}
    if service == "gateway":  # the client's address is the one HAProxy (on loopback) puts in X-Forwarded-For
        full.setdefault("DSP_GATEWAY_TRUSTED_PROXIES", "127.0.0.1")
    return spawn(name, [sys.executable, "-m", f"services.{service}"], run_dir, env=full)


def stop_all(infra: LocalInfra) -> list[str]:
    run_dir = infra.state_dir / "run"
    stopped = [name for name in ["haproxy", *_replicas_running(run_dir), *PROCESSES]
               if stop(run_dir / f"{name}.pid", timeout=25)]
    return stopped + infra.down()


def _replicas_running(run_dir: Path) -> list[str]:
    """The second and further replicas' names that have a pid file (`make down` is not told how many ran)."""
    return sorted(p.stem for p in run_dir.glob("*-[2-9].pid") if p.stem.rpartition("-")[0] in fleet.REPLICATED)


def _stopped_elsewhere(infra: LocalInfra) -> bool:
    run_dir = infra.state_dir / "run"
    return not any(read_pid(run_dir / f"{n}.pid") for n in [*PROCESSES, *_replicas_running(run_dir)]) \
        and not read_pid(infra.kafka.pid_file) \
        and not read_pid(infra.ferret.pid_file)


async def _report(infra: LocalInfra, stopping: asyncio.Event, every_s: int = 10, replicas: int = 1) -> None:
    """Every `every_s` s: lab results stored, dead-lettered, workers up — until `stopping` is set, or until the
    mesh is found stopped from elsewhere (`make down`: looked for every second). A progress read waits 5 s at
    most, and the Kafka client's own connection errors stay out of the terminal (a line says it instead)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from pymongo import AsyncMongoClient

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    run_dir = infra.state_dir / "run"
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(infra.ferret.admin_uri,
                                                                  serverSelectionTimeoutMS=2000)
    consumer = AIOKafkaConsumer(**infra.kafka.client_options())  # as admin: any topic's offsets
    await consumer.start()
    dlq = [TopicPartition("lab.results.v1.dlq", p) for p in range(6)]

    async def progress() -> str:
        stored = await client["dsp_records"]["documents"].count_documents({"document_type": "lab-result"})
        dead = sum((await consumer.end_offsets(dlq)).values())
        alive = sum(1 for n in WORKERS for r in range(1, replicas + 1)
                    if read_pid(run_dir / f"{fleet.replica_name(n, r)}.pid"))
        return (f"[mesh] lab results stored: {stored}   dead-lettered: {dead}   "
                f"workers up: {alive}/{len(WORKERS) * replicas}")

    try:
        tick = 0
        while not stopping.is_set():
            try:
                await asyncio.wait_for(stopping.wait(), timeout=1)
                break
            except TimeoutError:
                tick += 1
            if _stopped_elsewhere(infra):
                print("[mesh] the mesh was stopped from elsewhere (make down): nothing left to supervise", flush=True)
                break
            if tick % every_s:
                continue
            try:
                print(await asyncio.wait_for(progress(), timeout=5), flush=True)
            except Exception as exc:  # noqa: BLE001 - a progress line is never worth stopping the mesh
                print(f"[mesh] progress unavailable: {type(exc).__name__}", flush=True)
    finally:
        await consumer.stop()
        await client.close()


async def _supervise(infra: LocalInfra, replicas: int) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await _report(infra, stopping, replicas=replicas)


def run(infra: LocalInfra) -> int:
    """Bring everything up, print where to look, report progress until Ctrl-C, then stop everything.
    `DSP_REPLICAS` (`make run REPLICAS=2`): that many of each service behind HAProxy (`infra.fleet`)."""
    replicas = fleet.replicas_from_env()
    if replicas > 1:
        fleet.haproxy_binary()  # a clear error before anything starts
    try:
        timings = infra.up()
    except BaseException:
        print(f"[mesh] stopped what had started: {', '.join(infra.down()) or 'nothing'}", flush=True)
        raise
    print(f"[mesh] infrastructure up in {timings['total']:.1f}s")
    start(infra, replicas=replicas)
    run_dir = infra.state_dir / "run"
    if replicas > 1:
        ports = fleet.replica_ports(replicas, fleet.port_base())
        print(f"[mesh] a fleet: {replicas} replicas of each service behind HAProxy (config {infra.state_dir}/"
              f"haproxy.cfg, log {run_dir / 'haproxy.log'}); the ports below are the load balancer's, the replicas':")
        for service, numbers in ports.items():
            names = ", ".join(f"{fleet.replica_name(service, r)} :{p}" for r, p in enumerate(numbers, start=1))
            print(f"  {service:<11} {names}   ({fleet.REPLICA_HEADER} names the one that answered)")
    print("[mesh] workers (health, readiness, Prometheus metrics, AsyncAPI):")
    for name, port in WORKERS.items():
        print(f"  {name:<11} http://127.0.0.1:{port}/health/ready  /metrics  /asyncapi   log: {run_dir / name}.log")
    print(f"  {'gateway':<11} http://127.0.0.1:{GATEWAY_PORT}/docs (the portal API, OpenAPI at /openapi.json)   "
          f"log: {run_dir / 'gateway'}.log")
    print(f"  {'console':<11} http://127.0.0.1:{CONSOLE_PORT}/ (operations dashboard)   log: {run_dir / 'console'}.log")
    password = console_operator(infra, mesh_env(infra))
    if password is not None:
        print(f"[mesh] console login: http://127.0.0.1:{CONSOLE_PORT}/login as {CONSOLE_OPERATOR!r} (replayer), "
              f"password in {password}; more operators: python -m services.console add-operator NAME "
              "--role viewer|replayer")
    portal = f"http://127.0.0.1:{GATEWAY_PORT}"
    print(f"[mesh] web portal (myDSP): {portal}/  — French; Deutsch and English in its header")
    print(f"[mesh]   walk it as the demo patient Anne Muller: `make inbox` shows her matricule, her activation letter "
          f"(a PDF) with its code, and the one-time codes e-mailed to her; activate at {portal}/activate, then log "
          "in; her children's letters: `make inbox CHILD=0` / `CHILD=1` (activate, add yourself as their DSP "
          "assistant, then 'Autres dossiers patient')")
    print(f"[mesh]   as a health professional: {portal}/pro/login with the assertion `make pro-assertion` prints "
          "(the demo identity provider; PRO=PRO-1001 for the other doctor)")
    print(f"[mesh]   as a practice's software: FHIR R4 at {portal}/fhir/r4 with the token `make fhir-token` prints "
          "(SMART Backend Services, the demo client; see docs/fhir.md)")
    print(f"[mesh] Kafka {infra.kafka.bootstrap}   MongoDB protocol (FerretDB) {infra.ferret.uri}  databases dsp_*, "
          f"one user per service (passwords in {infra.ferret.users_dir})")
    print(f"[mesh] demo laboratory publishing to lab.results.v1; log: {run_dir / 'demo-laboratory.log'}")
    print(f"[mesh] notify's outside world: e-mails in {infra.state_dir / 'maildir'} (SMTP 127.0.0.1:{SMTP_PORT}), "
          f"SMS in {infra.state_dir / 'sms.jsonl'} (http://127.0.0.1:{SMS_PORT}/messages), "
          f"PDF letters in {infra.state_dir / 'letters'}")
    print("[mesh] Ctrl-C stops everything (or, from another shell: make down)", flush=True)
    try:
        asyncio.run(_supervise(infra, replicas))
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not interrupt the clean stop
            signal.signal(sig, signal.SIG_IGN)
        print("\n[mesh] stopping ...", flush=True)
        print(f"[mesh] stopped: {', '.join(stop_all(infra)) or 'nothing was left running'}", flush=True)
    return 0
