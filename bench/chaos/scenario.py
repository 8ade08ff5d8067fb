"""The chaos scenario: a realistic mix of lab results published at a steady rate to a records worker that is
SIGKILLed, loses FerretDB and loses the Kafka broker — then everything the mesh holds is checked.

What is checked (from what really reached the topics, not from what the script meant to send):
- reports: every valid message on `lab.results.v1` is one version of its report's document, none twice; each
  document's current version, status (withdrawn iff the latest is a cancellation), title and version count;
- events (`records.document-added.v1`): every event id always carries the same bytes; every (document, version)
  has one event id; every stored version that changed the document has its event, equal to the stored one;
- dead letters (`lab.results.v1.dlq`, this worker's group): every malformed record has one, named by its `dlq-id`
  (a deterministic id of group, topic, partition, offset); no valid record was dead-lettered; copies re-sent under
  the same id (a kill after the dead letter, before the commit) are counted, not failed;
- nothing is left parked; the worker's log during the broker outage (aiokafka lines, "dependency" lines).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from pymongo import AsyncMongoClient

from bench.common import SignedLabs, records_key
from demo.laboratory import PANELS, matricule, person
from infra.local import LocalInfra
from infra.procs import free_port
from schemas.topics import all_topics
from services.kit.deadletter import dead_letter_id
from services.records.domain.documents import document_id, event_id

ROOT = Path(__file__).resolve().parents[2]
TOPIC, EVENTS, DLQ, PERSONS = "lab.results.v1", "records.document-added.v1", "lab.results.v1.dlq", "registry.persons.v1"
LABS = ("KETTERTHILL", "BIONEXT", "LNS")
MALFORMED = ("bytes", "missing", "check-digit", "naive-time", "status", "no-observations", "key", "future", "array")


def say(text: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


@dataclass
class Message:
    i: int
    kind: str  # new | correction | cancellation | redelivery | malformed
    key: bytes
    value: bytes
    lab: str = ""
    report: str = ""
    message_id: str = ""
    title: str = ""
    of: int | None = None  # a redelivery: the index of the message it repeats
    headers: list[tuple[str, bytes]] = field(default_factory=list)  # its laboratory's signature


@dataclass
class Plan:
    tag: str
    patients: list[str]
    messages: list[Message]
    labs: SignedLabs
    by_bytes: dict[bytes, Message] = field(default_factory=dict)

    def count(self, kind: str) -> int:
        return sum(m.kind == kind for m in self.messages)


def make_plan(count: int, patients: int, seed: int, tag: str, now: datetime) -> Plan:
    """`count` results: 10% redeliveries (the same bytes again), 5% corrections, 2% cancellations, 1% malformed,
    the rest new reports; reported_at grows with the index, so the latest message of a report is its current one."""
    rng = random.Random(seed)
    people = [matricule(date(1940 + i % 70, 1 + i % 12, 1 + i % 28), i % 1000) for i in range(patients)]
    labs = [f"LAB-{tag}-{name}" for name in LABS]
    start = now - timedelta(days=2)
    messages: list[Message] = []
    reports: list[tuple[str, str, str, str, list[dict[str, Any]], str]] = []  # lab, report, patient, collected, ...
    open_reports: list[int] = []  # indexes into `reports` not cancelled
    valid: list[int] = []

    def result(lab: str, report: str, patient: str, collected: str, reported: datetime, status: str, title: str,
               observations: list[dict[str, Any]], message_id: str) -> bytes:
        return json.dumps({
            "message_id": message_id, "laboratory_id": lab, "report_id": report, "status": status,
            "patient_matricule": patient, "prescriber_id": "PRO-1000", "collected_at": collected,
            "reported_at": reported.isoformat(), "title": title, "observations": observations,
        }, ensure_ascii=False).encode()

    for i in range(count):
        reported = start + timedelta(seconds=i)
        message_id = f"{tag}-{i}"
        roll = rng.random()
        if roll < 0.10 and valid:
            j = rng.choice(valid[-2000:])
            original = messages[j]
            messages.append(Message(i, "redelivery", original.key, original.value, original.lab, original.report,
                                    original.message_id, original.title, of=j))
            continue
        if 0.17 <= roll < 0.18:
            kind = MALFORMED[i % len(MALFORMED)]
            messages.append(Message(i, "malformed", f"{labs[i % 3]}:BAD-{i}".encode(),
                                    malformed(kind, i, labs[i % 3], rng.choice(people), reported)))
            continue
        if 0.10 <= roll < 0.17 and open_reports:
            r = rng.choice(open_reports)
            lab, report, patient, collected, observations, panel = reports[r]
            if roll < 0.15:
                kind, status, title = "correction", "corrected", f"{panel} (correction {i})"
                observations = [{**o, "value": round(o["value"] * rng.uniform(0.9, 1.1), 1)} for o in observations]
            else:
                kind, status, title, observations = "cancellation", "cancelled", f"{panel} (annulé)", []
                open_reports.remove(r)
            value = result(lab, report, patient, collected, reported, status, title, observations, message_id)
            messages.append(Message(i, kind, f"{lab}:{report}".encode(), value, lab, report, message_id, title))
            valid.append(i)
            continue
        lab, panel = rng.choice(labs), rng.choice(list(PANELS))
        report, patient = f"R-{i}", rng.choice(people)
        collected = (reported - timedelta(hours=6)).isoformat()
        observations = []
        for loinc, display, typical, unit, low, high in PANELS[panel]:
            value_ = round(typical * rng.uniform(0.8, 1.25), 1)
            observations.append({"loinc": loinc, "display": display, "value": value_, "unit": unit,
                                 "reference_low": low, "reference_high": high,
                                 "interpretation": "H" if value_ > high else "L" if value_ < low else "N"})
        reports.append((lab, report, patient, collected, observations, panel))
        open_reports.append(len(reports) - 1)
        messages.append(Message(i, "new", f"{lab}:{report}".encode(),
                                result(lab, report, patient, collected, reported, "final", panel, observations,
                                       message_id), lab, report, message_id, panel))
        valid.append(i)
    plan = Plan(tag, people, messages, SignedLabs(labs))
    for m in messages:  # each signed by its laboratory (a malformed one too: it is refused for what it says)
        m.headers = messages[m.of].headers if m.of is not None else plan.labs.headers(m.key, m.value)
        if m.kind != "redelivery":
            plan.by_bytes[m.value] = m
    return plan


def malformed(kind: str, i: int, lab: str, patient: str, reported: datetime) -> bytes:
    body: dict[str, Any] = {
        "message_id": f"bad-{i}", "laboratory_id": lab, "report_id": f"BAD-{i}", "status": "final",
        "patient_matricule": patient, "collected_at": (reported - timedelta(hours=1)).isoformat(),
        "reported_at": reported.isoformat(), "title": "Glycémie",
        "observations": [{"loinc": "2345-7", "display": "Glucose", "value": 5.4, "unit": "mmol/L"}]}
    if kind == "bytes":
        return b"\xff\xfe" + str(i).encode()
    if kind == "array":
        return json.dumps([i]).encode()
    if kind == "missing":
        del body["patient_matricule"]
    elif kind == "check-digit":
        body["patient_matricule"] = patient[:-1] + str((int(patient[-1]) + 1) % 10)
    elif kind == "naive-time":
        body["reported_at"] = reported.replace(tzinfo=None).isoformat()
    elif kind == "status":
        body["status"] = "validated"
    elif kind == "no-observations":
        body["observations"] = []
    elif kind == "key":
        body["report_id"] = f"OTHER-{i}"
    elif kind == "future":
        body["reported_at"] = (reported + timedelta(days=3650)).isoformat()
    return json.dumps(body, ensure_ascii=False).encode()


async def start_client(client: Any, within_s: float = 60.0) -> None:
    """Start an aiokafka client, retrying while the broker (just started, or back) does not answer yet."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            await client.start()
            return
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1.0)


def kafka_options(infra: LocalInfra) -> dict[str, Any]:
    """This script's own clients: as the broker's super user where the broker is secured (SASL + ACLs)."""
    options = getattr(infra.kafka, "client_options", None)
    return dict(options()) if options else {"bootstrap_servers": infra.kafka.bootstrap}


def credentials(infra: LocalInfra, prefix: str) -> dict[str, str]:
    """The worker's own Kafka principal (its group ACLs granted for `prefix`) and MongoDB user, where the local
    infrastructure has them."""
    env: dict[str, str] = {}
    if hasattr(infra.kafka, "client_env"):
        infra.kafka.grant_groups(f"{prefix}-")
        env.update(infra.kafka.client_env("records"))
    if hasattr(infra.ferret, "credentials"):
        env.update(infra.ferret.credentials("records"))
    return env


class RecordsWorker:
    """`python -m services.records` as an operator runs it, on its own database and consumer group."""

    def __init__(self, infra: LocalInfra, log: Path) -> None:
        self.port, self.log = free_port(), log
        self.prefix = "chaos" + secrets.token_hex(3)
        self.group = f"{self.prefix}-records"
        self.env = {**os.environ, **credentials(infra, self.prefix), "DSP_KAFKA_BOOTSTRAP": infra.kafka.bootstrap,
                    "DSP_MONGO_URI": infra.ferret.uri,
                    "DSP_MONGO_DB_PREFIX": self.prefix, "DSP_KAFKA_GROUP_PREFIX": f"{self.prefix}-",
                    "DSP_LOG_PSEUDONYM_KEY": secrets.token_hex(16), "DSP_RECORDS_HTTP_PORT": str(self.port),
                    "DSP_SERVICE_KEY": records_key(),
                    "DSP_LOG_LEVEL": "INFO", "DSP_LOG_JSON": "true", "PYTHONUNBUFFERED": "1"}
        self.proc: subprocess.Popen[bytes] | None = None

    def launch(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "services.records"], cwd=ROOT, env=self.env,
                                     stdout=self.log.open("ab"), stderr=subprocess.STDOUT)

    async def ready(self, within_s: float = 120) -> None:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise SystemExit(f"records worker exited with {self.proc.returncode}; see {self.log}")
            if await asyncio.to_thread(self._ready):
                return
            await asyncio.sleep(0.2)
        raise SystemExit(f"records worker not ready within {within_s:.0f}s; see {self.log}")

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health/ready", timeout=2):
                return True
        except OSError:
            return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


class Offsets:
    """The source topic's end offsets and the worker group's committed ones, tolerant of a broker away."""

    def __init__(self, kafka: dict[str, Any], group: str) -> None:
        self.kafka, self.group = kafka, group
        self.parts = [TopicPartition(TOPIC, p) for p in range(all_topics()[TOPIC])]
        self.consumer: AIOKafkaConsumer | None = None
        self.admin: AIOKafkaAdminClient | None = None

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(**self.kafka, group_id=None, request_timeout_ms=5000)
        await start_client(self.consumer)
        self.admin = AIOKafkaAdminClient(**self.kafka, request_timeout_ms=5000)
        await start_client(self.admin)

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
        if self.admin is not None:
            await self.admin.close()

    async def ends(self) -> dict[int, int]:
        while True:
            try:
                assert self.consumer is not None  # noqa: S101
                found = await asyncio.wait_for(self.consumer.end_offsets(self.parts), 10)
                return {tp.partition: offset for tp, offset in found.items()}
            except (KafkaError, TimeoutError, OSError):
                await asyncio.sleep(0.5)

    async def committed(self) -> dict[int, int] | None:
        try:
            assert self.admin is not None  # noqa: S101
            found = await asyncio.wait_for(self.admin.list_consumer_group_offsets(self.group), 10)
        except (KafkaError, TimeoutError, OSError):
            return None
        return {tp.partition: meta.offset for tp, meta in found.items() if tp.topic == TOPIC}

    async def caught_up(self, target: dict[int, int]) -> bool:
        committed = await self.committed()
        return committed is not None and all(committed.get(p, 0) >= end for p, end in target.items())

    async def recovery(self, since: float) -> float:
        """Seconds from `since` until the worker has committed everything published up to now."""
        target = await self.ends()
        while not await self.caught_up(target):  # noqa: ASYNC110 - polling another process
            await asyncio.sleep(0.25)
        return round(time.monotonic() - since, 1)


@dataclass
class Fault:
    name: str
    at_s: float  # after publishing started
    down_s: float = 0.0
    began: float = 0.0
    ended: float = 0.0
    wall: tuple[float, float] = (0.0, 0.0)
    recovery: asyncio.Task[float] | None = None


async def publish_all(kafka: dict[str, Any], messages: list[Message], rate: float, sent: list[int]) -> None:
    """At `rate` per second; a send that fails (the broker away) is retried with the same bytes, as a laboratory
    does — so the topic may hold a few more copies than planned, which the checks read from the topic itself."""
    producer = AIOKafkaProducer(**kafka, acks="all", enable_idempotence=True, linger_ms=5,
                                request_timeout_ms=60_000)
    await start_client(producer)
    gate = asyncio.Semaphore(500)

    async def one(m: Message) -> None:
        try:
            while True:
                try:
                    await producer.send_and_wait(TOPIC, m.value, key=m.key, headers=m.headers)
                    sent[0] += 1
                    return
                except KafkaError:
                    await asyncio.sleep(1.0)
        finally:
            gate.release()

    tasks = []
    start = time.monotonic()
    try:
        for n, m in enumerate(messages):
            await gate.acquire()
            tasks.append(asyncio.create_task(one(m)))
            await asyncio.sleep(max(0.0, start + (n + 1) / rate - time.monotonic()))
        await asyncio.gather(*tasks)
    finally:
        await producer.stop()


async def run_faults(infra: LocalInfra, worker: RecordsWorker, offsets: Offsets, faults: list[Fault],
                     started: float) -> None:
    for fault in faults:
        await asyncio.sleep(max(0.0, started + fault.at_s - time.monotonic()))
        fault.began, wall_began = time.monotonic(), time.time()
        say(f"{fault.name} ...")
        if fault.name.startswith("kill"):
            worker.kill()
            worker.launch()  # as a supervisor does, at once
            await worker.ready()
        elif fault.name == "ferretdb":
            await asyncio.to_thread(infra.ferret.stop)
            await asyncio.sleep(max(0.0, fault.began + fault.down_s - time.monotonic()))
            await asyncio.to_thread(infra.ferret.start)
        elif fault.name == "kafka":
            await asyncio.to_thread(infra.kafka.stop)
            await asyncio.sleep(max(0.0, fault.began + fault.down_s - time.monotonic()))
            await asyncio.to_thread(infra.kafka.start)
        fault.ended = time.monotonic()
        fault.wall = (wall_began, time.time())
        fault.down_s = round(fault.ended - fault.began, 1)
        fault.recovery = asyncio.create_task(offsets.recovery(fault.ended))
        say(f"{fault.name}: back after {fault.down_s:.1f} s")


async def read_topic(kafka: dict[str, Any], topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of `topic`, up to its current end."""
    consumer = AIOKafkaConsumer(**kafka, enable_auto_commit=False, group_id=None,
                                max_partition_fetch_bytes=4 * 1024 * 1024)
    await start_client(consumer)
    try:
        parts = [TopicPartition(topic, p) for p in range(all_topics()[topic])]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        found: list[ConsumerRecord[bytes, bytes]] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for tp, records in (await consumer.getmany(timeout_ms=1000, max_records=10_000)).items():
                found += [r for r in records if r.offset < ends[tp]]
        return found
    finally:
        await consumer.stop()


def check(plan: Plan, group: str, source: list[ConsumerRecord[bytes, bytes]], docs: list[dict[str, Any]],
          events: list[ConsumerRecord[bytes, bytes]], dead: list[ConsumerRecord[bytes, bytes]],
          parked: int) -> dict[str, Any]:
    """Compare what the mesh holds with what really reached lab.results.v1. Returns the figures; `ok` says if
    nothing was lost, doubled or changed."""
    labs = {f"LAB-{plan.tag}-{name}" for name in LABS}
    problems: list[str] = []
    ours = [r for r in source if (r.key or b"").split(b":")[0].decode(errors="replace") in labs]
    unknown = [r for r in ours if r.value not in plan.by_bytes]
    if unknown:
        problems.append(f"{len(unknown)} records on {TOPIC} the plan never sent")
    # reports: what the valid messages on the topic make
    expected: dict[str, dict[str, Message]] = defaultdict(dict)
    malformed_at: dict[tuple[int, int], Message] = {}
    for r in ours:
        m = plan.by_bytes.get(r.value)
        if m is None:
            continue
        if m.kind == "malformed":
            malformed_at[(r.partition, r.offset)] = m
        else:
            expected[document_id(m.lab, m.report)][m.message_id] = m
    stored = {d["_id"]: d for d in docs}
    lost_reports = [d for d in expected if d not in stored]
    extra_reports = [d for d in stored if d not in expected]
    lost_versions = doubled_versions = changed = 0
    stored_versions = 0
    for doc_id, versions in expected.items():
        doc = stored.get(doc_id)
        if doc is None:
            lost_versions += len(versions)
            continue
        ids = [v["message_id"] for v in doc["versions"]]
        stored_versions += len(ids)
        lost_versions += len(set(versions) - set(ids))
        doubled_versions += len(ids) - len(set(ids)) + len(set(ids) - set(versions))
        latest = max(versions.values(), key=lambda m: m.i)
        want = ("withdrawn" if latest.kind == "cancellation" else "active", latest.message_id, latest.title,
                len(versions))
        got = (doc["status"], doc["versions"][-1]["message_id"], doc["title"], doc["version_count"])
        if want != got:
            changed += 1
            if changed <= 3:
                problems.append(f"document {doc_id}: expected {want}, stored {got}")
    if lost_reports or lost_versions:
        problems.append(f"lost: {len(lost_reports)} reports, {lost_versions} versions")
    if extra_reports or doubled_versions:
        problems.append(f"doubled: {len(extra_reports)} unexpected documents, {doubled_versions} versions")
    # events: one content per id, one id per (document, version), each stored change sent as stored
    bodies: dict[str, set[bytes]] = defaultdict(set)
    per_version: dict[tuple[str, int], set[str]] = defaultdict(set)
    for e in events:
        body = json.loads(e.value)
        if body["document_id"] not in stored:
            continue
        bodies[body["event_id"]].add(e.value)
        per_version[(body["document_id"], body["version"])].add(body["event_id"])
    changed_events = sum(len(v) > 1 for v in bodies.values())
    two_ids = sum(len(v) > 1 for v in per_version.values())
    wanted_events = missing_events = differing_events = unfixed = 0
    for doc in docs:
        for v in doc["versions"]:
            if not v.get("change"):
                continue
            wanted_events += 1
            sent = bodies.get(event_id(doc["_id"], v["message_id"]))
            if not sent:
                missing_events += 1
            elif not v.get("event"):
                unfixed += 1  # stored without its event (an older worker): only the ids' contents are checked
            elif {v["event"].encode()} != sent:
                differing_events += 1
    spurious_events = len(bodies) - wanted_events + missing_events
    copies = sum(1 for e in events if json.loads(e.value)["document_id"] in stored) - len(bodies)
    if changed_events or two_ids or differing_events:
        problems.append(f"events changed: {changed_events} ids with two contents, {two_ids} (document, version) "
                        f"with two ids, {differing_events} differ from the stored event")
    if missing_events or spurious_events:
        problems.append(f"events: {missing_events} lost, {spurious_events} without a stored version")
    # dead letters: one per malformed record on the topic, named by its dlq-id; nothing valid dead-lettered
    ours_dead = [r for r in dead if dict(r.headers).get("dlq-consumer-group") == group.encode()
                 and (r.key or b"").split(b":")[0].decode(errors="replace") in labs]
    by_source: dict[tuple[int, int], list[ConsumerRecord[bytes, bytes]]] = defaultdict(list)
    wrong_dead = bad_ids = 0
    for r in ours_dead:
        h = {k: v.decode() for k, v in r.headers}
        source_at = (int(h["dlq-source-partition"]), int(h["dlq-source-offset"]))
        if h.get("dlq-id") != dead_letter_id(group, h["dlq-source-topic"], *source_at):
            bad_ids += 1
        if source_at not in malformed_at or malformed_at[source_at].value != r.value:
            wrong_dead += 1
        by_source[source_at].append(r)
    lost_dead = len(set(malformed_at) - set(by_source))
    dead_copies = len(ours_dead) - len(by_source)
    if lost_dead or wrong_dead or bad_ids:
        problems.append(f"dead letters: {lost_dead} missing, {wrong_dead} for a valid record, {bad_ids} without "
                        "their deterministic dlq-id")
    if parked:
        problems.append(f"{parked} results still parked")
    return {
        "ok": not problems, "problems": problems,
        "published": len(ours), "reports": len(expected), "reports_stored": len(set(expected) & set(stored)),
        "versions": sum(len(v) for v in expected.values()), "versions_stored": stored_versions,
        "lost_reports": len(lost_reports), "lost_versions": lost_versions, "doubled_versions": doubled_versions,
        "extra_documents": len(extra_reports), "changed_documents": changed,
        "withdrawn": sum(d["status"] == "withdrawn" for d in docs),
        "events": len(bodies), "event_copies": copies, "event_ids_changed": changed_events,
        "versions_with_two_event_ids": two_ids, "events_lost": missing_events, "events_differing": differing_events,
        "events_unfixed": unfixed, "malformed": len(malformed_at), "dead_letters": len(by_source),
        "dead_letter_copies": dead_copies, "dead_letters_lost": lost_dead, "dead_letters_wrong": wrong_dead,
        "dead_letters_without_id": bad_ids, "parked": parked,
    }


ROUTINE = {"Received", "Processed", "lab results stored", "message dead-lettered"}  # per batch, not about faults


def log_figures(log: Path, window: tuple[float, float]) -> dict[str, int]:
    """The worker's log: its lines from the Kafka clients, and what it said while the broker was away and in the
    30 s after (besides the per-batch lines of the results it kept processing)."""
    lines = aiokafka = in_window = aiokafka_in_window = unreachable = reachable = 0
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        lines += 1
        from_client = str(entry.get("logger", "")).startswith("aiokafka")
        aiokafka += from_client
        if entry.get("dependency") == "kafka":
            unreachable += str(entry.get("event", "")).startswith("dependency unreachable")
            reachable += entry.get("event") == "dependency reachable"
        try:
            at = datetime.fromisoformat(str(entry["timestamp"]).replace("Z", "+00:00")).timestamp()
        except (KeyError, ValueError):
            continue
        if window[0] <= at <= window[1] + 30 and entry.get("event") not in ROUTINE:
            in_window += 1
            aiokafka_in_window += from_client
    return {"log_lines": lines, "log_lines_aiokafka": aiokafka, "log_lines_kafka_outage": in_window,
            "log_lines_aiokafka_kafka_outage": aiokafka_in_window, "log_kafka_unreachable": unreachable,
            "log_kafka_reachable": reachable}


async def scenario(infra: LocalInfra, count: int, rate: float, patients: int, ferret_down: float,
                   kafka_down: float, kills: int, seed: int, log: Path) -> dict[str, Any]:
    kafka = kafka_options(infra)
    tag = secrets.token_hex(3).upper()
    plan = make_plan(count, patients, seed, tag, datetime.now(UTC))
    worker = RecordsWorker(infra, log)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(getattr(infra.ferret, "admin_uri", infra.ferret.uri),
                                                                 tz_aware=True)
    db = client[f"{worker.prefix}_records"]
    offsets = Offsets(kafka, worker.group)
    try:
        producer = AIOKafkaProducer(**kafka, acks="all", enable_idempotence=True, linger_ms=5)
        await start_client(producer)
        try:  # the registry announces every patient first, the directory every laboratory: nothing is parked
            await asyncio.gather(*[await producer.send(PERSONS, json.dumps(person(m, i)).encode(), key=m.encode())
                                   for i, m in enumerate(plan.patients)])
            await plan.labs.announce(producer)
        finally:
            await producer.stop()
        worker.launch()
        await worker.ready()
        while await db["persons"].count_documents({}) < len(plan.patients):  # noqa: ASYNC110 - another process
            await asyncio.sleep(0.5)
        await offsets.start()
        span = count / rate
        faults = [Fault(f"kill {n + 1}", span * f) for n, f in enumerate([0.15, 0.5, 0.85][:kills])]
        if ferret_down:
            faults.append(Fault("ferretdb", span * 0.3, ferret_down))
        if kafka_down:
            faults.append(Fault("kafka", span * 0.65, kafka_down))
        faults.sort(key=lambda f: f.at_s)
        say(f"publishing {count} results at {rate:.0f}/s to {TOPIC} ({patients} patients); faults: "
            + ", ".join(f"{f.name} at {f.at_s:.0f} s" for f in faults))
        sent = [0]
        started = time.monotonic()
        await asyncio.gather(publish_all(kafka, plan.messages, rate, sent),
                             run_faults(infra, worker, offsets, faults, started))
        say(f"published {sent[0]} records in {time.monotonic() - started:.0f} s; waiting for the worker to drain")
        drain_from = time.monotonic()
        target = await offsets.ends()
        deadline = time.monotonic() + max(600.0, count / 20)
        while not await offsets.caught_up(target):
            if time.monotonic() > deadline:
                raise SystemExit("the worker did not catch up within the deadline")
            await asyncio.sleep(0.5)
        drained_s = round(time.monotonic() - drain_from, 1)
        recoveries = {f.name: await f.recovery for f in faults if f.recovery is not None}
        worker.stop()
        say("checking reports, versions, events and dead letters")
        source, events, dead = (await read_topic(kafka, TOPIC), await read_topic(kafka, EVENTS),
                                await read_topic(kafka, DLQ))
        docs = [d async for d in db["documents"].find({}, {
            "status": 1, "title": 1, "version_count": 1, "versions.message_id": 1,
            "versions.change": 1, "versions.event": 1})]
        parked = await db["parked"].count_documents({}) + await db["awaiting_key"].count_documents({})
        figures = check(plan, worker.group, source, docs, events, dead, parked)
        kafka_fault = next((f for f in faults if f.name == "kafka"), None)
        figures.update(log_figures(log, kafka_fault.wall if kafka_fault else (0.0, 0.0)))
        figures.update({
            "count": count, "rate": rate, "patients": patients, "planned": {
                k: plan.count(k) for k in ("new", "correction", "cancellation", "redelivery", "malformed")},
            "faults": {f.name: {"at_s": round(f.at_s, 1), "down_s": f.down_s, "recovery_s": recoveries.get(f.name)}
                       for f in faults},
            "drain_s": drained_s, "worker_log": str(log),
        })
        return figures
    finally:
        worker.stop()
        await offsets.stop()
        await client.close()


def summary(f: dict[str, Any]) -> str:
    faults = ", ".join(f"{name} {v['down_s']:.1f} s (recovered in {v['recovery_s']} s)"
                       for name, v in f["faults"].items())
    return (f"chaos: {f['published']} results ({f['planned']['redelivery']} redeliveries, "
            f"{f['planned']['correction']} corrections, {f['planned']['cancellation']} cancellations, "
            f"{f['malformed']} malformed) at {f['rate']:.0f}/s; {faults} | "
            f"reports {f['reports_stored']}/{f['reports']} ({f['withdrawn']} withdrawn), "
            f"versions {f['versions_stored']}/{f['versions']}, lost {f['lost_versions']}, "
            f"doubled {f['doubled_versions']}, changed {f['changed_documents']} | events {f['events']} "
            f"(+{f['event_copies']} identical re-sends), changed {f['event_ids_changed']}, "
            f"two ids per version {f['versions_with_two_event_ids']}, lost {f['events_lost']} | dead letters "
            f"{f['dead_letters']}/{f['malformed']} (+{f['dead_letter_copies']} re-sent copies) | "
            f"worker log during the broker outage (+30 s): {f['log_lines_kafka_outage']} lines besides per-batch "
            f"ones, {f['log_lines_aiokafka_kafka_outage']} from aiokafka ({f['log_lines_aiokafka']} in the run) | "
            + ("PASS" if f["ok"] else "FAIL: " + "; ".join(f["problems"])))
