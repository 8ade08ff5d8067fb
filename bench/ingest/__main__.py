"""python -m bench.ingest [--count 50000] [--live 5000] [--live-rate RATE] [--patients 2000] [--prefill 100000]
[--mix 20000]

Sustained ingest rate and publish->stored latency of the records worker against two baselines on the same broker
and database, in the same run:

- the **raw** baseline: a plain aiokafka consumer doing insert_many of each message as opaque bytes;
- the **same-shape** baseline: a plain consumer writing, per result, exactly the documents records writes — the
  stored document, the patient's list entry and the laboratory message's claim — with three plain insert_many,
  no validation, no events (the documents are built before the clock starts), so that records' own cost is told
  apart from the database's per-field cost.

- rate: a backlog of --count realistic new results over --patients patients is published first, then drained;
  rate = results / (last effect - first processing). records' effect is the document-added event, sent after
  the bulk write; the baseline's is insert_many's return.
- latency: then --live results at --live-rate per second (default: half of records' measured rate) while the
  consumer is caught up; latency = effect time - the result's Kafka timestamp (CreateTime, set when the
  laboratory published it). The baselines are driven at the same live rate.
- realistic mix: the worker's database already holds --prefill results of the same patients (stored directly,
  as records stores them) when --mix messages arrive as laboratories send them — 10% redeliveries, 5%
  corrections, 2% cancellations, 1% malformed (bench.chaos's plan); rate = messages / (all committed - first
  published).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo import AsyncMongoClient

from bench.chaos.scenario import Offsets, Plan, make_plan
from bench.common import Endpoints, SignedLabs, bench_line, infrastructure, kafka_options, records_key, report, rounded
from bench.seeding import documents, seed
from demo.laboratory import LABS, PATIENTS, lab_result, person
from infra.procs import free_port
from schemas.lab_result import LabResultV1
from services.records.domain import documents as domain
from services.records.domain import listing
from services.records.domain.documents import document_id
from services.records.store.shape import stored

ROOT = Path(__file__).resolve().parents[2]
TOPIC, EVENTS = "lab.results.v1", "records.document-added.v1"
SIGNED = SignedLabs(LABS)  # the demo laboratories, each with its own key: every result is signed, as records requires


async def publish(bootstrap: str, count: int, per_second: float | None = None,
                  patients: list[str] = PATIENTS) -> dict[str, float]:
    """Publish `count` results, each signed by its laboratory; returns document id -> publish timestamp (s) as Kafka
    recorded it."""
    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    rng, sent = random.Random(7), []
    start = time.monotonic()
    try:
        for i in range(count):
            key, value = lab_result(rng, datetime.now(UTC), mistakes=0.0, patients=patients)
            sent.append((key, await producer.send(TOPIC, value, key=key, headers=SIGNED.headers(key, value))))
            if per_second and i % 10 == 9:
                await asyncio.sleep(max(0.0, start + (i + 1) / per_second - time.monotonic()))
        await producer.flush()
        times = {}
        for key, fut in sent:
            lab, report_id = key.decode().split(":")
            times[document_id(lab, report_id)] = (await fut).timestamp / 1000
        return times
    finally:
        await producer.stop()


async def end_offsets(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(**kafka_options(bootstrap))
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or range(6)]
        return dict(await consumer.end_offsets(parts))
    finally:
        await consumer.stop()


async def event_times(bootstrap: str, since: dict[TopicPartition, int], wanted: set[str],
                      within_s: float) -> dict[str, float]:
    """document id -> timestamp of its first document-added event after `since`."""
    consumer = AIOKafkaConsumer(**kafka_options(bootstrap), enable_auto_commit=False)
    await consumer.start()
    consumer.assign(list(since))
    for tp, offset in since.items():
        consumer.seek(tp, offset)
    found: dict[str, float] = {}
    deadline = time.monotonic() + within_s
    try:
        while len(found) < len(wanted) and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                for r in records:
                    doc = json.loads(r.value)["document_id"]
                    if doc in wanted and doc not in found:
                        found[doc] = r.timestamp / 1000
    finally:
        await consumer.stop()
    return found


class RecordsWorker:
    def __init__(self, ends: Endpoints, log: Path) -> None:
        self.port, self.log = free_port(), log
        self.proc: subprocess.Popen[bytes] | None = None
        self.prefix = "bench" + secrets.token_hex(3)
        self.env = {**os.environ, "DSP_KAFKA_BOOTSTRAP": ends.bootstrap, "DSP_MONGO_URI": ends.mongo_uri,
                    "DSP_MONGO_DB_PREFIX": self.prefix, "DSP_KAFKA_GROUP_PREFIX": f"{self.prefix}-",
                    "DSP_LOG_PSEUDONYM_KEY": secrets.token_hex(16), "DSP_RECORDS_HTTP_PORT": str(self.port),
                    "DSP_SERVICE_KEY": records_key(),
                    "DSP_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "services.records"], cwd=ROOT, env=self.env,
                                     stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health/ready", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"records worker not ready; see {self.log}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=60)


async def registered(ends: Endpoints, db: Any, people: list[str], labs: list[SignedLabs]) -> None:
    """The registry announces the patients first, the directory the laboratories and their keys: nothing waits."""
    producer = AIOKafkaProducer(**kafka_options(ends.bootstrap), acks="all", linger_ms=5)
    await producer.start()
    await asyncio.gather(*[await producer.send("registry.persons.v1", json.dumps(person(m, i)).encode(),
                                               key=m.encode()) for i, m in enumerate(people)])
    for signed in labs:
        await signed.announce(producer)
    await producer.stop()
    while await db["persons"].estimated_document_count() < len(people):  # noqa: ASYNC110 - another process
        await asyncio.sleep(0.2)


async def drain_mix(ends: Endpoints, group: str, plan: Plan) -> float:
    """Publish the plan's messages as a backlog; messages per second until the worker committed them all."""
    offsets = Offsets(kafka_options(ends.bootstrap), group)
    await offsets.start()
    producer = AIOKafkaProducer(**kafka_options(ends.bootstrap), acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    started = time.monotonic()
    await asyncio.gather(*[await producer.send(TOPIC, m.value, key=m.key, headers=m.headers) for m in plan.messages])
    await producer.stop()
    target = await offsets.ends()
    while not await offsets.caught_up(target):  # noqa: ASYNC110 - polling another process
        await asyncio.sleep(0.25)
    took = time.monotonic() - started
    await offsets.stop()
    return len(plan.messages) / took


async def run_records(ends: Endpoints, args: argparse.Namespace, log: Path) -> dict[str, Any]:
    worker = RecordsWorker(ends, log)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(ends.mongo_uri)
    db = client[f"{worker.prefix}_records"]
    plan = make_plan(args.mix, args.patients, seed=5, tag="mix", now=datetime.now(UTC))
    started = time.monotonic()
    await seed(ends.mongo_uri, worker.prefix, documents(args.prefill, plan.patients, random.Random(3)))
    print(f"database prefilled: {args.prefill:,} results over {args.patients:,} patients "
          f"in {time.monotonic() - started:.0f}s", flush=True)
    worker.start()
    try:
        await registered(ends, db, plan.patients, [SIGNED, plan.labs])
        events_from = await end_offsets(ends.bootstrap, EVENTS)
        warm = await publish(ends.bootstrap, 200, patients=plan.patients)  # warm-up: every subscriber joined
        await event_times(ends.bootstrap, events_from, set(warm), within_s=120)
        events_from = await end_offsets(ends.bootstrap, EVENTS)
        backlog = await publish(ends.bootstrap, args.count, patients=plan.patients)
        got = await event_times(ends.bootstrap, events_from, set(backlog), within_s=1800)
        received = [v["received_at"].timestamp() async for d in db["documents"].find(
            {"_id": {"$in": list(backlog)}}, {"versions.received_at": 1}) for v in d["versions"]]
        rate = len(got) / (max(got.values()) - min(received))
        events_from = await end_offsets(ends.bootstrap, EVENTS)
        args.live_rate = args.live_rate or round(rate / 2)  # p99 at half of records' own rate
        sent = await publish(ends.bootstrap, args.live, args.live_rate, patients=plan.patients)
        got = await event_times(ends.bootstrap, events_from, set(sent), within_s=600)
        mix_rate = await drain_mix(ends, f"{worker.prefix}-records", plan)
    finally:
        worker.stop()
        await client.close()
    return {"rate": rate, "latency": [1000 * (got[d] - sent[d]) for d in got], "mix_rate": mix_rate,
            "patients": plan.patients}


Write = Callable[[list[Any]], Awaitable[None]]  # a batch of consumed records -> its effect, done
Phase = Callable[[str, float | None], Awaitable[Any]]  # publish the phase's results ("warm", "count", "live")


async def drive_plain(ends: Endpoints, name: str, write: Write, publish_phase: Phase, sizes: dict[str, int],
                      live_rate: float) -> tuple[float, list[float]]:
    """A plain consumer (getmany -> `write` -> commit): warmed up, then the backlog drained (rate), then the live
    results (latency = effect - Kafka timestamp)."""
    consumer = AIOKafkaConsumer(TOPIC, **kafka_options(ends.bootstrap), group_id=f"{name}-" + secrets.token_hex(3),
                                auto_offset_reset="latest", enable_auto_commit=False)
    await consumer.start()
    effects: list[tuple[float, float]] = []  # (publish timestamp, effect done), in consumption order
    first = 0.0

    async def consume(until: int) -> None:
        nonlocal first
        while len(effects) < until:
            batches = await consumer.getmany(timeout_ms=200, max_records=500)
            records = [r for rs in batches.values() for r in rs]
            if records:
                first = first or time.time()
                await write(records)
                await consumer.commit()
                done = time.time()
                effects.extend((r.timestamp / 1000, done) for r in records)

    async def phase(which: str, rate: float | None = None) -> None:
        nonlocal first
        effects.clear()
        first = 0.0
        task = asyncio.create_task(consume(sizes[which]))
        await publish_phase(which, rate)
        await task

    try:
        await consumer.getmany(timeout_ms=1000)  # joined and positioned at the end: only what follows counts
        await phase("warm")
        await phase("count")
        rate = sizes["count"] / (effects[-1][1] - first)
        await phase("live", live_rate)
    finally:
        await consumer.stop()
    return rate, [1000 * (done - published) for published, done in effects]


async def run_baseline(ends: Endpoints, count: int, live: int, live_rate: float) -> tuple[float, list[float]]:
    """The raw baseline: each message inserted as opaque bytes. No parsing, no validation, no events."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(ends.mongo_uri)
    raw = client["bench_baseline_" + secrets.token_hex(3)]["raw"]

    async def write(records: list[Any]) -> None:
        await raw.insert_many([{"key": r.key, "value": r.value, "ts": r.timestamp} for r in records], ordered=False)

    async def publish_phase(which: str, rate: float | None) -> None:
        await publish(ends.bootstrap, {"warm": 200, "count": count, "live": live}[which], rate)

    try:
        return await drive_plain(ends, "baseline", write, publish_phase,
                                 {"warm": 200, "count": count, "live": live}, live_rate)
    finally:
        await client.close()


def shaped(count: int, patients: list[str]) -> tuple[list[tuple[bytes, bytes]], dict[bytes, tuple[Any, Any, Any]]]:
    """`count` signed-ready results and, per Kafka key, the three documents records stores for it (the document as
    stored, the laboratory message's claim, the patient's list entry), built before any clock starts."""
    rng, messages, docs = random.Random(11), [], {}
    for _ in range(count):
        now = datetime.now(UTC)
        key, value = lab_result(rng, now, mistakes=0.0, patients=patients)
        result = LabResultV1.model_validate_json(value)
        doc, _ = domain.apply(None, result.laboratory_id, result.report_id, domain.to_version(result, now, now))
        docs[key] = ({**stored(doc), "blocked": False},
                     {"_id": f"{result.laboratory_id}\x1f{result.message_id}", "document_id": doc["_id"]},
                     {"_id": listing.key(doc["patient_matricule"], doc["_id"]), **listing.entry(doc), "blocked": False})
        messages.append((key, value))
    return messages, docs


async def publish_these(bootstrap: str, messages: list[tuple[bytes, bytes]], per_second: float | None = None) -> None:
    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    start = time.monotonic()
    try:
        for i, (key, value) in enumerate(messages):
            await producer.send(TOPIC, value, key=key, headers=SIGNED.headers(key, value))
            if per_second and i % 10 == 9:
                await asyncio.sleep(max(0.0, start + (i + 1) / per_second - time.monotonic()))
        await producer.flush()
    finally:
        await producer.stop()


async def run_same_shape(ends: Endpoints, count: int, live: int, live_rate: float,
                         patients: list[str]) -> tuple[float, list[float]]:
    """The same-shape baseline: the three insert_many records does (documents, lab_messages, patient_documents)."""
    phases = {"warm": shaped(200, patients), "count": shaped(count, patients), "live": shaped(live, patients)}
    prepared = {key: docs for _, shapes in phases.values() for key, docs in shapes.items()}
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(ends.mongo_uri, tz_aware=True)
    db = client["bench_same_shape_" + secrets.token_hex(3)]

    async def write(records: list[Any]) -> None:
        shapes = [prepared[r.key] for r in records]
        await db["documents"].insert_many([s[0] for s in shapes], ordered=False)
        await db["lab_messages"].insert_many([s[1] for s in shapes], ordered=False)
        await db["patient_documents"].insert_many([s[2] for s in shapes], ordered=False)

    async def publish_phase(which: str, rate: float | None) -> None:
        await publish_these(ends.bootstrap, phases[which][0], rate)

    try:
        return await drive_plain(ends, "same-shape", write, publish_phase,
                                 {which: len(msgs) for which, (msgs, _) in phases.items()}, live_rate)
    finally:
        await client.close()

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--live", type=int, default=5_000)
    parser.add_argument("--live-rate", type=float, default=0.0, help="0: half of records' measured rate")
    parser.add_argument("--patients", type=int, default=2_000)
    parser.add_argument("--prefill", type=int, default=100_000)
    parser.add_argument("--mix", type=int, default=20_000)
    args = parser.parse_args()
    log = Path(tempfile.gettempdir()) / "dsp-bench-records.log"
    with infrastructure() as ends:
        rec = asyncio.run(run_records(ends, args, log))
        base_rate, base_lat = asyncio.run(run_baseline(ends, args.count, args.live, args.live_rate))
        same_rate, same_lat = asyncio.run(run_same_shape(ends, args.count, args.live, args.live_rate,
                                                         rec["patients"]))
    rec_rate, rec_lat, mix_rate = rec["rate"], rec["latency"], rec["mix_rate"]
    print(f"\nbench/ingest: {args.count} results drained, then {args.live} live at {args.live_rate:.0f}/s, "
          f"over {args.patients} patients; then a mix of {args.mix} on {args.prefill:,} stored results")
    print(report("raw baseline (insert_many)", base_rate, base_lat))
    print(report("same-shape baseline", same_rate, same_lat))
    print(report("records worker", rec_rate, rec_lat))
    print(f"records, realistic mix        {mix_rate:>8,.0f} messages/s")
    print(f"ratio records / baseline: {rec_rate / base_rate:.2f} fresh (goal >= 0.5, aim 0.8), "
          f"{mix_rate / base_rate:.2f} mix")
    print(f"ratio records / same-shape baseline: {rec_rate / same_rate:.2f} fresh, {mix_rate / same_rate:.2f} mix "
          f"(goal >= 0.8); records' p99 at {args.live_rate:.0f}/s (half its rate): "
          f"{rounded(rec_lat)['p99']:.0f} ms (goal < 250)")
    print(bench_line("ingest", results=args.count, patients=args.patients, records_per_s=round(rec_rate, 1),
                     baseline_per_s=round(base_rate, 1), ratio=round(rec_rate / base_rate, 3),
                     mix_messages=args.mix, prefilled=args.prefill, mix_per_s=round(mix_rate, 1),
                     mix_ratio=round(mix_rate / base_rate, 3), live_rate_per_s=args.live_rate,
                     records_latency_ms=rounded(rec_lat), baseline_latency_ms=rounded(base_lat),
                     same_shape_per_s=round(same_rate, 1), same_shape_ratio=round(rec_rate / same_rate, 3),
                     mix_same_shape_ratio=round(mix_rate / same_rate, 3), same_shape_latency_ms=rounded(same_lat)))


if __name__ == "__main__":
    main()
