"""Test helpers: valid matricules, realistic lab results, worker processes, DLQ reads, polling."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from stdnum import luhn, verhoeff

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")

# A fixed keypair for notify's sealed parameters, for tests only (never used outside them): workers started by the
# tests get it unless the environment names other keys (`python -m services.kit.sealing` makes a new pair).
TEST_NOTIFY_SEAL_KEY = "O7XaSAHWjH4rHMEdajjIw151kBMjQjLiJra4tI1jGrI="
TEST_NOTIFY_PUBLIC_KEY = "1G8dHAxy4PZP0yZHBVdbzvQIWvxKMh+cnHe6wN+Hui0="


def notify_public_key() -> str:
    """The public key that the notify worker a test starts opens sealed parameters with."""
    if os.environ.get("DSP_NOTIFY_SEAL_KEY"):
        from services.kit.sealing import public_key_of

        return public_key_of(os.environ["DSP_NOTIFY_SEAL_KEY"])
    return TEST_NOTIFY_PUBLIC_KEY


def with_test_notify_keys(env: dict[str, str]) -> dict[str, str]:
    """`env` plus the test keypair, when neither `env` nor the process environment sets notify's keys."""
    defaults = {"DSP_NOTIFY_SEAL_KEY": TEST_NOTIFY_SEAL_KEY, "DSP_NOTIFY_PUBLIC_KEY": TEST_NOTIFY_PUBLIC_KEY}
    if any(name in env or name in os.environ for name in defaults):
        return env
    return {**defaults, **env}


SERVICES = ("gateway", "console", "access", "activation", "records", "notify")


def fixed_service_key(service: str) -> str:
    """A fixed Ed25519 seed per service, for tests only: the service tokens of service-to-service calls."""
    return base64.b64encode(hashlib.sha256(f"dsp-mesh test service key {service}".encode()).digest()).decode()


def fixed_service_public_keys() -> str:
    from services.kit.servicetokens import private_key, public_b64

    return ",".join(f"{name}={public_b64(private_key(fixed_service_key(name)))}" for name in SERVICES)


def with_fixed_service_keys(service: str, env: dict[str, str]) -> dict[str, str]:
    """`env` plus `service`'s test key and every service's public key, unless `env` names them."""
    return {"DSP_SERVICE_KEY": fixed_service_key(service), "DSP_SERVICE_PUBLIC_KEYS": fixed_service_public_keys(),
            **env}


def audit_keys_for_tests(db_prefix: str) -> dict[str, str]:
    """access's audit key and audit signing key for the tests, one pair per database prefix (for tests only): the
    replicas of one deployment share them, and two deployments of a test session (their own databases, the one
    checkpoint topic) never read each other's checkpoints."""
    seed = hashlib.sha256(f"dsp-mesh test audit signing key {db_prefix}".encode()).digest()
    return {"DSP_ACCESS_AUDIT_KEY": hashlib.sha256(f"dsp-mesh test audit key {db_prefix}".encode()).hexdigest(),
            "DSP_ACCESS_AUDIT_SIGNING_KEY": base64.b64encode(seed).decode()}


def with_test_audit_keys(service: str, env: dict[str, str]) -> dict[str, str]:
    """`env` plus access's test audit keys (for its database prefix), unless `env` or the environment names them."""
    names = ("DSP_ACCESS_AUDIT_KEY", "DSP_ACCESS_AUDIT_SIGNING_KEY")
    if service != "access" or any(name in env or name in os.environ for name in names):
        return env
    prefix = env.get("DSP_MONGO_DB_PREFIX", os.environ.get("DSP_MONGO_DB_PREFIX", "dsp"))
    return {**audit_keys_for_tests(prefix), **env}


MONGO_USERS: dict[str, tuple[str, str]] = {}
"""service → (user, password) of its own MongoDB user, filled by the test infrastructure that created them (the
local FerretDB); empty on other infrastructure, whose URI's credentials the workers then use."""
MONGO_ADMIN_URIS: dict[str, str] = {}
"""The tests' admin URI → the same server's URI without credentials (what a worker with its own user gets)."""


def with_mongo_user(service: str, env: dict[str, str]) -> dict[str, str]:
    """`env` plus `service`'s own MongoDB user, when the test infrastructure made one and neither `env` nor the
    process environment names MongoDB credentials; the admin URI is then replaced by the bare address."""
    names = ("DSP_MONGO_USERNAME", "DSP_MONGO_PASSWORD")
    if service not in MONGO_USERS or any(name in env or name in os.environ for name in names):
        return env
    user, password = MONGO_USERS[service]
    found = {**env, "DSP_MONGO_USERNAME": user, "DSP_MONGO_PASSWORD": password}
    if env.get("DSP_MONGO_URI") in MONGO_ADMIN_URIS:
        found["DSP_MONGO_URI"] = MONGO_ADMIN_URIS[env["DSP_MONGO_URI"]]
    return found


# The secured local broker the tests run on, registered by tests/integration/conftest.py's `infra` fixture:
# "node" (infra.kafka.KafkaNode). Empty for external infrastructure or testcontainers (PLAINTEXT unless the
# environment names credentials).
KAFKA: dict[str, Any] = {}
_GRANTED: set[str] = set()
KAFKA_CREDENTIALS = ("DSP_KAFKA_USERNAME", "DSP_KAFKA_PASSWORD", "DSP_KAFKA_SECURITY_PROTOCOL")


def kafka_options(bootstrap: str) -> dict[str, Any]:
    """aiokafka arguments for the tests' own clients: as `admin` on the secured local broker, or the environment's
    DSP_KAFKA_* credentials, else plain `bootstrap_servers`."""
    from services.kit.kafka_auth import options_from_env

    if "node" in KAFKA and KAFKA["node"].bootstrap == bootstrap:
        return dict(KAFKA["node"].client_options())
    return {**options_from_env(os.environ), "bootstrap_servers": bootstrap}


def with_test_kafka_credentials(service: str, env: dict[str, str]) -> dict[str, str]:
    """`env` plus `service`'s own Kafka principal on the secured local broker (its consumer-group ACLs granted for
    the env's group prefix), unless `env` or the process environment names Kafka credentials."""
    if "node" not in KAFKA or any(k in env or k in os.environ for k in KAFKA_CREDENTIALS):
        return env
    node = KAFKA["node"]
    prefix = env.get("DSP_KAFKA_GROUP_PREFIX", os.environ.get("DSP_KAFKA_GROUP_PREFIX", ""))
    if prefix not in _GRANTED:
        node.grant_groups(prefix)
        _GRANTED.add(prefix)
    own = {k: v for k, v in node.client_env(service).items() if k != "DSP_KAFKA_BOOTSTRAP"}
    return {**own, **env}


def as_caller(caller: str, audience: str) -> dict[str, str]:
    """The Authorization header of `caller` (a service, with its test key) calling `audience`'s internal API."""
    from services.kit.servicetokens import Signer

    return {"authorization": f"Bearer {Signer(caller, fixed_service_key(caller)).token(audience)}"}


LAB_RESULT_TOPICS = ("lab.results.v1", "lab.results.fhir.v1")
DIRECTORY_LABORATORIES = "directory.laboratories.v1"
_ANNOUNCED: set[tuple[str, str]] = set()  # (bootstrap, laboratory): announced once per test run


def laboratory_key(lab: str, generation: int = 0) -> Any:
    """A fixed signing key per laboratory (and generation), for tests only (`services.kit.labsign.LaboratoryKey`)."""
    from services.kit.labsign import LaboratoryKey, b64url

    seed = hashlib.sha256(f"dsp-mesh test laboratory key {lab} {generation}".encode()).digest()
    return LaboratoryKey.from_seed(lab, b64url(seed))


def laboratory_name(lab: str) -> str:
    """The name the tests' directory gives a laboratory."""
    return f"Laboratoire {lab}"


def lab_of(key: bytes | None, value: bytes | None) -> str:
    """The laboratory a lab result's key names (`<laboratory_id>:<report_id>`), else its value's, else LAB-TEST."""
    import re

    from schemas.fields import IDENTIFIER_PATTERN

    lab, sep, _ = (key or b"").decode(errors="replace").partition(":")
    if not sep:
        try:
            lab = str(json.loads(value or b"").get("laboratory_id"))
        except (ValueError, AttributeError):
            lab = ""
    return lab if re.match(IDENTIFIER_PATTERN, lab) else "LAB-TEST"


class SigningProducer:
    """A producer as a laboratory's software is one: a lab result (`lab.results.v1`, `lab.results.fhir.v1`) sent
    without a `dsp-lab-signature` header is signed with its laboratory's test key (`laboratory_key`), and that key is
    announced on `directory.laboratories.v1` the first time the run sees the laboratory (records parks a result whose
    key comes later: the order does not matter). Everything else goes through unchanged; `directory`: the producer
    that may announce (default: this one)."""

    def __init__(self, producer: Any, bootstrap: str, directory: Any = None) -> None:
        self.producer, self.bootstrap, self.directory = producer, bootstrap, directory or producer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.producer, name)

    async def announce(self, key: Any, status: str = "active", name: str | None = None) -> None:
        listing = key.listing(name or laboratory_name(key.laboratory_id), status=status)
        await self.directory.send_and_wait(DIRECTORY_LABORATORIES, encode(listing), key=key.laboratory_id.encode())

    async def _signed(self, topic: str, key: bytes | None, value: bytes | None,
                      headers: Any) -> list[tuple[str, bytes]] | None:
        from services.kit.labsign import HEADER

        if topic not in LAB_RESULT_TOPICS or any(name == HEADER for name, _ in headers or ()):
            return headers
        lab = lab_of(key, value)
        signer = laboratory_key(lab)
        if (self.bootstrap, lab) not in _ANNOUNCED:
            await self.announce(signer)
            _ANNOUNCED.add((self.bootstrap, lab))
        return [*(headers or ()), *signer.headers(topic, key, value or b"")]

    async def send(self, topic: str, value: bytes | None = None, key: bytes | None = None, **kwargs: Any) -> Any:
        headers = await self._signed(topic, key, value, kwargs.pop("headers", None))
        return await self.producer.send(topic, value, key=key, headers=headers, **kwargs)

    async def send_and_wait(self, topic: str, value: bytes | None = None, key: bytes | None = None,
                            **kwargs: Any) -> Any:
        headers = await self._signed(topic, key, value, kwargs.pop("headers", None))
        return await self.producer.send_and_wait(topic, value, key=key, headers=headers, **kwargs)


def make_matricule(birth: date, serial: int = 57) -> str:
    base = f"{birth:%Y%m%d}{serial:03d}"
    return base + luhn.calc_check_digit(base) + verhoeff.calc_check_digit(base)


def lab_result(lab: str, report: str = "R1", message_id: str = "m-1", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": message_id,
        "laboratory_id": lab,
        "report_id": report,
        "status": "final",
        "patient_matricule": "1893120105732",
        "prescriber_id": "DR-4711",
        "collected_at": "2026-11-20T08:05:00+01:00",
        "reported_at": "2026-11-20T14:30:00+01:00",
        "title": "Hémogramme complet",
        "observations": [
            {"loinc": "718-7", "display": "Hémoglobine", "value": 13.9, "unit": "g/dL",
             "reference_low": 12.0, "reference_high": 16.0, "interpretation": "N"},
            {"loinc": "6690-2", "display": "Leucocytes", "value": 11.8, "unit": "10*9/L",
             "reference_low": 4.0, "reference_high": 10.0, "interpretation": "H"},
            {"loinc": "600-7", "display": "Hémoculture", "value_text": "Négative"},
        ],
    }
    body.update(overrides)
    return body


def person(matricule: str, message_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    body = {"message_id": message_id or f"reg-{matricule}", "matricule": matricule, "given_name": "Marie",
            "family_name": "Weber", "birth_date": f"{matricule[:4]}-{matricule[4:6]}-{matricule[6:8]}",
            "postal_address": {"line1": "12 rue de l'Alzette", "postal_code": "L-4011", "locality": "Esch"},
            "email": "marie.weber@example.lu", "mobile": "+352621123456"}
    return {**body, **overrides}


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


async def eventually(probe: Callable[[], Awaitable[T]], within_s: float = 30.0, every_s: float = 0.2) -> T:
    """Poll `probe` until it returns a truthy value (an asynchronous effect to appear), or fail."""
    deadline = time.monotonic() + within_s
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within_s}s (last value: {value!r})")
        await asyncio.sleep(every_s)


async def read_topic(bootstrap: str, topic: str, key_prefix: bytes, count: int, within_s: float = 60.0,
                     group: str | None = None) -> list[ConsumerRecord[bytes, bytes]]:
    """Read the whole topic until records with `count` distinct keys starting with `key_prefix` are seen
    (dead letters: only those written by consumer group `group`, when given)."""
    consumer = AIOKafkaConsumer(topic, **kafka_options(bootstrap), auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    found: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + within_s
    try:
        while len({r.key for r in found}) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                found += [r for r in records if (r.key or b"").startswith(key_prefix)
                          and (group is None or dict(r.headers).get("dlq-consumer-group") == group.encode())]
    finally:
        await consumer.stop()
    return found


async def commit_group_offsets(bootstrap: str, group: str, offsets: Mapping[TopicPartition, int],
                               within_s: float = 60.0) -> None:
    """Commit `offsets` as consumer group `group`'s next positions, from outside the group: its start put past the
    run's history (`skip_history`), or back before a message whose effect was done but whose offset was never
    committed (a kill between the two). The broker takes such a commit only from a group with no member left, so it
    is retried, once a second, until the last members have left (a killed one's session timed out) and the commit
    reads back; a TimeoutError after `within_s`."""
    from aiokafka.errors import KafkaError

    deadline = time.monotonic() + within_s
    while True:
        consumer = AIOKafkaConsumer(**kafka_options(bootstrap), group_id=group, enable_auto_commit=False)
        await consumer.start()
        refused: Exception | None = None
        try:
            consumer.assign(list(offsets))
            await consumer.commit(dict(offsets))
            read_back = await asyncio.gather(*(consumer.committed(tp) for tp in offsets))
            if read_back == list(offsets.values()):
                return
        except KafkaError as exc:  # the group's last members have not left yet
            refused = exc
        finally:
            await consumer.stop()
        if time.monotonic() > deadline:
            raise TimeoutError(f"consumer group {group}: its offsets not committed within {within_s:g} s "
                               "(a member never left?)") from refused
        await asyncio.sleep(1.0)


async def skip_history(bootstrap: str, groups: list[str], within_s: float = 60.0) -> None:
    """Commit, for each consumer group in `groups`, the current end of every topic: a module's world on the run's
    shared broker starts where the run is, instead of first replaying what other modules published since it last
    ran (a fleet's thousands of commands, hundreds of activations: minutes of argon2 hashes and letters on a loaded
    CI machine before its own patient's turn). Call it before the world's workers start (no member in the group)."""
    from schemas.topics import all_topics

    parts = [TopicPartition(name, p) for name, count in all_topics().items() for p in range(count)]
    consumer = AIOKafkaConsumer(**kafka_options(bootstrap), enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(parts)
    finally:
        await consumer.stop()
    for group in groups:
        await commit_group_offsets(bootstrap, group, ends, within_s)


def header(record: ConsumerRecord[bytes, bytes], name: str) -> str:
    return dict(record.headers)[name].decode()


class Worker:
    """A service started as a real process: `python -m services.<name>`."""

    def __init__(self, service: str, env: dict[str, str], log_path: Path) -> None:
        self.service, self.env, self.log_path = service, env, log_path
        self.port = int(env[f"DSP_{service.upper()}_HTTP_PORT"])
        self.proc: subprocess.Popen[bytes] | None = None

    def environment(self) -> dict[str, str]:
        """The worker's own settings: `env` plus its test credentials and keys (its Kafka principal, service key,
        access's audit keys, notify's keys, its MongoDB user)."""
        return with_mongo_user(self.service, with_test_notify_keys(with_fixed_service_keys(
            self.service, with_test_audit_keys(self.service, with_test_kafka_credentials(self.service, self.env)))))

    def launch(self) -> Worker:
        """Start the process without waiting for it to be ready."""
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", f"services.{self.service}"], cwd=ROOT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1", **self.environment()},
                                     stdout=log, stderr=subprocess.STDOUT)
        return self

    def start(self, within_s: float = 60.0) -> Worker:
        """Start the process and wait until it is ready and has its partitions."""
        self.launch()
        assert self.proc is not None
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.service} exited with {self.proc.returncode}:\n{self.logs()[-3000:]}")
            if self.http("/health/ready")[0] == 200 and "assigned to partitions" in self.logs():
                return self
            time.sleep(0.2)
        raise AssertionError(f"{self.service} not ready within {within_s}s:\n{self.logs()[-3000:]}")

    def http(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()
        except OSError:
            return 0, ""

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def fhir_bundle(lab: str, report: str, message_id: str, matricule: str = "1893120105732",
                status: str = "final", **report_overrides: Any) -> dict[str, Any]:
    """A FHIR R4 Bundle as a laboratory information system would send it (valid for HAPI FHIR's validator:
    tests/integration/test_hapi_validator.py)."""
    def ref(name: str) -> str:  # entries' fullUrls: lowercase UUIDs, as FHIR asks
        return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{lab}/{report}/{name}')}"

    observations = [
        {"resourceType": "Observation", "id": "hb", "status": "final",
         "code": {"coding": [{"system": "http://loinc.org", "code": "718-7", "display": "Hémoglobine"}]},
         "valueQuantity": {"value": 13.2, "unit": "g/dL", "system": "http://unitsofmeasure.org", "code": "g/dL"},
         "referenceRange": [{"low": {"value": 12.0, "unit": "g/dL"}, "high": {"value": 16.0, "unit": "g/dL"}}],
         "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                                         "code": "N"}]}]},
        {"resourceType": "Observation", "id": "crp", "status": "final",
         "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5", "display": "CRP"}]},
         "valueQuantity": {"value": 48, "unit": "mg/L", "system": "http://unitsofmeasure.org", "code": "mg/L"},
         "interpretation": [{"coding": [{"code": "H"}]}]},
        {"resourceType": "Observation", "id": "culture", "status": "final",
         "code": {"coding": [{"system": "http://loinc.org", "code": "600-7", "display": "Hémoculture"}]},
         "valueCodeableConcept": {"text": "Pas de croissance"}},
    ]
    diagnostic = {
        "resourceType": "DiagnosticReport", "id": "rep", "status": status,
        "identifier": [{"system": f"urn:lab:{lab}:report", "value": report}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2", "display": "CBC panel"}],
                 "text": "Hémogramme et CRP"},
        "subject": {"reference": ref("patient")},
        "effectiveDateTime": "2026-11-20T08:05:00+01:00", "issued": "2026-11-20T14:30:00+01:00",
        "performer": [{"reference": ref("lab")}],
        "result": [{"reference": ref(f"obs-{o['id']}")} for o in observations],
        **report_overrides,
    }
    entries = [
        {"fullUrl": ref("report"), "resource": diagnostic},
        {"fullUrl": ref("patient"), "resource": {
            "resourceType": "Patient",
            "identifier": [{"system": "urn:dsp-mesh:fhir:sid:matricule", "value": matricule}],
            "name": [{"family": "Weber", "given": ["Marie"]}],
            "birthDate": f"{matricule[:4]}-{matricule[4:6]}-{matricule[6:8]}"}},
        {"fullUrl": ref("lab"), "resource": {
            "resourceType": "Organization", "name": lab,
            "identifier": [{"system": "urn:dsp-mesh:fhir:sid:laboratory", "value": lab}]}},
        *[{"fullUrl": ref(f"obs-{o['id']}"), "resource": o} for o in observations],
    ]
    return {"resourceType": "Bundle", "type": "collection", "identifier": {"system": f"urn:lab:{lab}:msg",
                                                                          "value": message_id},
            "timestamp": "2026-11-20T14:31:00+01:00", "entry": entries}


def rss_kib(pid: int) -> int:
    """A process's resident memory (VmRSS), in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
