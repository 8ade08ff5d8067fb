"""Exactly once under faults, on the real stack (issue 16): the same event id always carries the same bytes, a
dead letter is written once per attempt series and names itself (`dlq-id`), a broker restart is two log lines.

- a kill between effect and commit: the worker stored two versions and sent their events, then was SIGKILLed
  before its offset was committed (simulated exactly: the group's offset is put back after the kill); after the
  restart both messages are redelivered and re-send the very same bytes;
- a laboratory re-sending a message after its correction: the original's event comes back unchanged;
- FerretDB down for 12 s with invalid records in the waiting batch: each is dead-lettered once, not per retry;
- a broker restart: one "unreachable" line and one "reachable" line, not aiokafka's reconnect noise.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from pymongo import AsyncMongoClient

from schemas.topics import all_topics
from services.kit.deadletter import dead_letter_id
from services.records.domain import documents as domain
from tests.support import (
    SigningProducer,
    Worker,
    commit_group_offsets,
    encode,
    eventually,
    kafka_options,
    lab_result,
    make_matricule,
    skip_history,
)

EVENTS = "records.document-added.v1"
PATIENT = "1893120105732"


@pytest.fixture
def local(infra: Any) -> Any:
    if infra.local is None:
        pytest.skip("needs the project's local infrastructure to stop and start servers")
    return infra.local


async def read_all(bootstrap: str, topic: str, keep: Callable[[ConsumerRecord[bytes, bytes]], bool]
                   ) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of `topic` up to its current end (not just the first match per key) that `keep` accepts."""
    consumer = AIOKafkaConsumer(**kafka_options(bootstrap), enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(all_topics()[topic])]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        found: list[ConsumerRecord[bytes, bytes]] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += [r for r in records if r.offset < ends[TopicPartition(r.topic, r.partition)] and keep(r)]
        return found
    finally:
        await consumer.stop()


async def events_for(bootstrap: str, doc_id: str) -> list[ConsumerRecord[bytes, bytes]]:
    return await read_all(bootstrap, EVENTS, lambda r: json.loads(r.value)["document_id"] == doc_id)


def assert_same_id_same_bytes(events: list[ConsumerRecord[bytes, bytes]]) -> dict[str, dict[str, Any]]:
    """Each event id always carries the same bytes; each (document, version) has one event id."""
    by_id: dict[str, set[bytes]] = defaultdict(set)
    ids_by_version: dict[tuple[str, int], set[str]] = defaultdict(set)
    for e in events:
        body = json.loads(e.value)
        by_id[body["event_id"]].add(e.value)
        ids_by_version[(body["document_id"], body["version"])].add(body["event_id"])
    changed = {i: sorted(v) for i, v in by_id.items() if len(v) > 1}
    assert not changed, f"an event id was re-sent with other content: {changed}"
    doubled = {k: v for k, v in ids_by_version.items() if len(v) > 1}
    assert not doubled, f"(document, version) with two event ids: {doubled}"
    return {i: json.loads(next(iter(v))) for i, v in by_id.items()}


async def test_a_kill_between_effect_and_commit_redelivers_the_same_event_bytes(
        spawn_worker: Callable[..., Worker], producer: AIOKafkaProducer, mongo: AsyncMongoClient[dict[str, Any]],
        unique: str, infra: Any) -> None:
    prefix = f"x{unique}"
    # a patient only this worker knows: any other records worker on the topic parks these results, so every
    # event seen below comes from this one
    patient = make_matricule(date(1960 + random.randrange(40), 1 + random.randrange(12), 1 + random.randrange(28)),
                             random.randrange(1000))
    await mongo[f"{prefix}_records"]["persons"].insert_one({"_id": patient, "known": True})
    lab = f"LAB-{unique}"
    key = f"{lab}:R1".encode()
    doc_id = domain.document_id(lab, "R1")
    wanted = {domain.event_id(doc_id, "v1"), domain.event_id(doc_id, "v2")}

    async def sent(copies: int) -> bool:
        events = await events_for(infra.bootstrap, doc_id)
        return all(sum(json.loads(e.value)["event_id"] == i for e in events) >= copies for i in wanted)

    # stopped whatever happens: left running (its own group, its own database) it would answer the next tests'
    # commands again with events of its own
    await skip_history(infra.bootstrap, [f"{prefix}-records"])  # its group starts where the run is, not at the
    # chaos run's thousands of results (replaying them took it past 180 s once)
    worker = spawn_worker("records", DSP_MONGO_DB_PREFIX=prefix, DSP_KAFKA_GROUP_PREFIX=f"{prefix}-")
    try:
        first = await producer.send_and_wait("lab.results.v1", encode(lab_result(
            lab, message_id="v1", patient_matricule=patient)), key=key)
        await producer.send_and_wait("lab.results.v1", encode(lab_result(
            lab, message_id="v2", status="corrected", reported_at="2026-11-20T16:00:00+01:00",
            title="Hémogramme (corrigé)", patient_matricule=patient)), key=key)
        await eventually(lambda: sent(1), within_s=180)
        worker.kill()  # both effects done (documents written, events sent); now: the offset was never committed
        # put the group's committed offset back, as a kill between effect and commit leaves it
        await commit_group_offsets(infra.bootstrap, f"{prefix}-records",
                                   {TopicPartition("lab.results.v1", first.partition): first.offset})
        worker.start()
        await eventually(lambda: sent(2), within_s=180)  # both messages redelivered, both events re-sent
    finally:
        worker.stop()
    events = assert_same_id_same_bytes(await events_for(infra.bootstrap, doc_id))
    original, correction = events[domain.event_id(doc_id, "v1")], events[domain.event_id(doc_id, "v2")]
    assert (original["change"], original["version"], original["title"]) == ("added", 1, "Hémogramme complet")
    assert (correction["change"], correction["version"]) == ("corrected", 2)


async def test_a_message_re_sent_after_its_correction_re_sends_its_own_event(
        records: Worker, producer: AIOKafkaProducer, mongo: AsyncMongoClient[dict[str, Any]], run_id: str,
        unique: str, infra: Any) -> None:
    lab = f"LAB-{unique}"
    key = f"{lab}:R1".encode()
    original = encode(lab_result(lab, message_id="v1"))
    await producer.send_and_wait("lab.results.v1", original, key=key)
    await producer.send_and_wait("lab.results.v1", encode(lab_result(
        lab, message_id="v2", status="cancelled", observations=[], reported_at="2026-11-20T16:00:00+01:00")),
        key=key)
    docs = mongo[f"{run_id}_records"]["documents"]
    await eventually(lambda: docs.find_one({"laboratory_id": lab, "status": "withdrawn"}))
    doc_id = domain.document_id(lab, "R1")
    await producer.send_and_wait("lab.results.v1", original, key=key)  # the laboratory sends it again

    async def re_sent() -> bool:
        ids = [json.loads(e.value)["event_id"] for e in await events_for(infra.bootstrap, doc_id)]
        return ids.count(domain.event_id(doc_id, "v1")) >= 2

    await eventually(re_sent, within_s=60)
    events = assert_same_id_same_bytes(await events_for(infra.bootstrap, doc_id))
    assert events[domain.event_id(doc_id, "v1")]["change"] == "added"
    assert events[domain.event_id(doc_id, "v1")]["version"] == 1
    assert events[domain.event_id(doc_id, "v2")]["change"] == "withdrawn"


async def test_a_redelivered_upload_or_block_command_re_sends_the_same_event_bytes(
        records: Worker, producer: AIOKafkaProducer, mongo: AsyncMongoClient[dict[str, Any]], run_id: str,
        unique: str, infra: Any) -> None:
    """The upload's event carried the time of each attempt (no document date given), a block its `at`."""
    upload = {"command": "upload-document", "command_id": f"up-{unique}", "patient_matricule": PATIENT,
              "uploaded_by": PATIENT, "title": "Ordonnance", "content_type": "application/pdf",
              "data_base64": base64.b64encode(b"%PDF-1.4\n%%EOF\n").decode()}
    doc_id = domain.upload_id(upload["command_id"])
    block = {"command": "block-document", "command_id": f"b-{unique}", "patient_matricule": PATIENT,
             "requested_by": PATIENT, "document_id": doc_id}
    for command in (upload, upload, block):
        await producer.send_and_wait("records.commands.v1", json.dumps(command).encode(), key=PATIENT.encode())
        await asyncio.sleep(1.1)  # a second later: a rebuilt event would say so
    await producer.send_and_wait("records.commands.v1", json.dumps(block).encode(), key=PATIENT.encode())

    async def copies(topic: str, n: int) -> list[ConsumerRecord[bytes, bytes]] | None:
        found = await read_all(infra.bootstrap, topic, lambda r: json.loads(r.value)["document_id"] == doc_id)
        return found if len(found) >= n else None

    added = await eventually(lambda: copies(EVENTS, 2), within_s=60)
    visibility = await eventually(lambda: copies("records.document-visibility.v1", 2), within_s=60)
    assert len({r.value for r in added}) == 1 and len({r.value for r in visibility}) == 1
    assert {dict(r.headers)["event-id"].decode() for r in added} == {domain.event_id(doc_id, upload["command_id"])}


async def test_database_down_with_invalid_records_in_the_batch_each_is_dead_lettered_once(
        local: Any, records: Worker, producer: AIOKafkaProducer, mongo: AsyncMongoClient[dict[str, Any]],
        run_id: str, unique: str, infra: Any) -> None:
    lab = f"LAB-{unique}"
    bad = {f"{lab}:B{i}": body for i, body in enumerate([
        b"{}", b"\xff\xfe", b"[1, 2]", encode(lab_result(lab, report="B3", message_id="b3", status="unknown")),
        encode(lab_result(lab, report="B4", message_id="b4", patient_matricule="1893120105733"))])}
    local.ferret.stop()
    try:
        sends = []
        for i in range(6):  # one partition: the invalid records wait in the same batch as the valid ones
            sends.append(await producer.send("lab.results.v1", encode(lab_result(
                lab, report=f"G{i}", message_id=f"g{i}")), key=f"{lab}:G{i}".encode(), partition=0))
        for key, value in bad.items():
            sends.append(await producer.send("lab.results.v1", value, key=key.encode(), partition=0))
        await asyncio.gather(*sends)
        await asyncio.sleep(12)  # the batch is retried several times while the database is away
    finally:
        local.ferret.start()
    docs = mongo[f"{run_id}_records"]["documents"]

    async def stored() -> bool:
        return await docs.count_documents({"laboratory_id": lab}) == 6

    await eventually(stored, within_s=90)
    await asyncio.sleep(3)  # anything still to be dead-lettered has been by now
    group = f"{run_id}-records"
    dead = await read_all(infra.bootstrap, "lab.results.v1.dlq", lambda r: (r.key or b"").startswith(
        f"{lab}:".encode()) and dict(r.headers).get("dlq-consumer-group") == group.encode())
    copies: dict[bytes, int] = defaultdict(int)
    for r in dead:
        copies[r.key] += 1
    assert dict(copies) == {k.encode(): 1 for k in bad}, "each invalid record dead-lettered exactly once"
    for r in dead:
        headers = {k: v.decode() for k, v in r.headers}
        assert headers["dlq-id"] == dead_letter_id(group, headers["dlq-source-topic"],
                                                   int(headers["dlq-source-partition"]),
                                                   int(headers["dlq-source-offset"]))
        assert r.value == bad[r.key.decode()]


def log_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def test_broker_restart_is_two_log_lines_not_a_flood(
        local: Any, records: Worker, mongo: AsyncMongoClient[dict[str, Any]], run_id: str, unique: str,
        infra: Any) -> None:
    lab = f"LAB-{unique}"
    docs = mongo[f"{run_id}_records"]["documents"]

    async def publish(message_id: str, report: str) -> None:
        producer = SigningProducer(AIOKafkaProducer(**infra.kafka, acks="all", enable_idempotence=True),
                                   infra.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait("lab.results.v1", encode(lab_result(lab, report, message_id=message_id)),
                                         key=f"{lab}:{report}".encode())
        finally:
            await producer.stop()

    # the laboratory is known (its key announced and listed) before the outage: a result parked until its key
    # arrives would log its own lines, which are not the restart's
    await publish("before", "R0")
    await eventually(lambda: docs.find_one({"laboratory_id": lab, "report_id": "R0"}), within_s=90)
    await asyncio.sleep(2)  # the worker is idle: whatever it logs from now on is about the restart
    mark = len(records.logs())
    local.kafka.stop()
    await asyncio.sleep(8)  # down long enough for every client to notice (heartbeats, fetches, metadata)
    local.kafka.start()
    await publish("after", "R1")
    await eventually(lambda: docs.find_one({"laboratory_id": lab, "report_id": "R1"}), within_s=90)
    await asyncio.sleep(5)  # late reconnect noise would show up now
    lines = log_lines(records.logs()[mark:])
    summary = "\n".join(f"{e.get('logger')} {e.get('level')} {e.get('event')}" for e in lines[:40])
    kafka = [e for e in lines if e.get("dependency") == "kafka"]
    assert [e["event"].split(";")[0] for e in kafka] == ["dependency unreachable", "dependency reachable"], summary
    assert kafka[1]["held_back"] > 0
    assert [e for e in lines if e.get("logger", "").startswith("aiokafka")] == [], summary
    assert len(lines) <= 12, summary  # the two lines, the result's own (received, stored, processed), a few more
