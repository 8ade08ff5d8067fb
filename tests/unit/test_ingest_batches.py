"""The ingest service's batch handling, with an in-memory store: a poison record is isolated and dead-lettered
alone; the rest of its batch is stored; dependency failures are left to the middleware's wait loop; an event is
fixed when its message is first applied and re-sent byte for byte; a retried batch dead-letters once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo.errors import AutoReconnect

from schemas.directory import LaboratoryListedV1
from services.records.domain import documents as domain
from services.records.domain.laboratories import Laboratories, merge
from services.records.service.directory import Directory
from services.records.service.ingest import Ingestor
from tests.fakes.records import PATIENT, MemoryStore
from tests.support import encode, lab_result, laboratory_key


class DeadLetterRecorder:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, str, str]] = []

    async def publish(self, record: Any, why: str, exc: BaseException, kind: str) -> bool:
        self.sent.append((record.key, kind, why))
        return True


def signed(key: bytes, value: bytes, offset: int, signer: Any = None,
           topic: str = "lab.results.v1") -> ConsumerRecord[bytes, bytes]:
    """A record as it reaches records: signed with LAB1's key (`signer`: another key, or False: not signed)."""
    by = laboratory_key("LAB1") if signer is None else signer
    return ConsumerRecord(topic=topic, partition=0, offset=offset, timestamp=1_763_800_000_000, timestamp_type=0,
                          key=key, value=value, checksum=None, serialized_key_size=0, serialized_value_size=0,
                          headers=by.headers(topic, key, value) if by else ())


def record(report: str, offset: int, message_id: str | None = None, **fields: Any) -> ConsumerRecord[bytes, bytes]:
    return signed(f"LAB1:{report}".encode(),
                  encode(lab_result("LAB1", report=report, message_id=message_id or f"m-{report}", **fields)), offset)


def ingestor(store: MemoryStore, dead: DeadLetterRecorder, events: list[Any],
             sent: list[tuple[bytes, dict[str, Any]]] | None = None) -> Ingestor:
    async def send_event(body: Any, **kwargs: Any) -> Any:
        events.append(json.loads(body))
        if sent is not None:
            sent.append((body, kwargs))
        done: Any = __import__("asyncio").get_running_loop().create_future()
        done.set_result(None)
        return done

    laboratories = Laboratories([merge(None, LaboratoryListedV1.model_validate(laboratory_key("LAB1").listing(
        "Laboratoire LAB1")), lambda _: None)])
    return Ingestor(store, dead, send_event, send_event, lambda: datetime(2026, 11, 22, tzinfo=UTC),  # type: ignore[arg-type]
                    lambda m: "ref", max_attempts=3, directory=Directory(store, laboratories),  # type: ignore[arg-type]
                    sealer=Ed25519PrivateKey.generate())


async def test_a_poison_record_is_dead_lettered_alone_and_its_batch_is_stored() -> None:
    store, dead, events = MemoryStore(poison_report="R2"), DeadLetterRecorder(), []
    ingest_ = ingestor(store, dead, events)
    await ingest_.handle([record("R1", 1), record("R2", 2), record("R3", 3)])
    assert sorted(d["report_id"] for d in store.docs.values()) == ["R1", "R3"]
    assert dead.sent == [(b"LAB1:R2", "failed",
                          "processing failed 3 times: RuntimeError: this document cannot be written")]
    assert [e["change"] for e in events] == ["added", "added"]
    assert metric(ingest_, "stored") == 2 and metric(ingest_, "failed") == 1


async def test_a_dependency_failure_is_raised_for_the_middleware_to_wait_out() -> None:
    store, dead = MemoryStore(down=True), DeadLetterRecorder()
    with pytest.raises(AutoReconnect):
        await ingestor(store, dead, []).handle([record("R1", 1)])
    assert dead.sent == [] and store.docs == {}


async def test_redelivered_batch_changes_nothing_and_re_emits_the_same_event_ids() -> None:
    store, dead, events = MemoryStore(), DeadLetterRecorder(), []
    ingest = ingestor(store, dead, events)
    await ingest.handle([record("R1", 1)])
    before = {k: dict(v) for k, v in store.docs.items()}
    await ingest.handle([record("R1", 1)])
    assert store.docs == before
    assert len(events) == 2 and events[0]["event_id"] == events[1]["event_id"]
    assert metric(ingest, "stored") == 1 and metric(ingest, "duplicate") == 1


def metric(ingest: Ingestor, outcome: str) -> float:
    value = ingest.metrics.registry.get_sample_value("dsp_records_lab_results_total", {"outcome": outcome})
    return value or 0.0


async def test_two_reports_reusing_a_message_id_in_one_batch_store_the_first_only() -> None:
    """Found by an integration run: both landed in one batch and both were stored."""
    store, dead, events = MemoryStore(), DeadLetterRecorder(), []
    reused = signed(b"LAB1:R2", encode(lab_result("LAB1", report="R2", message_id="m-R1")), 2)
    await ingestor(store, dead, events).handle([record("R1", 1), reused])
    assert sorted(d["report_id"] for d in store.docs.values()) == ["R1"]
    assert dead.sent == [(b"LAB1:R2", "invalid", "message_id was already used for another report")]


async def test_an_event_is_fixed_when_first_applied_and_re_sent_byte_for_byte() -> None:
    """Issue 16: the original's event was rebuilt from the document's current state (the correction's)."""
    store, dead, events, sent = MemoryStore(), DeadLetterRecorder(), [], []
    ingest = ingestor(store, dead, events, sent)
    original = record("R1", 1, message_id="v1")
    correction = record("R1", 2, message_id="v2", status="corrected", title="Hémogramme (corrigé)",
                        reported_at="2026-11-20T16:00:00+01:00")
    await ingest.handle([original])
    await ingest.handle([correction])
    await ingest.handle([original, correction])  # redelivered after a kill between effect and commit
    await ingest.handle([original])  # the laboratory sends it once more
    doc_id = domain.document_id("LAB1", "R1")
    by_id: dict[str, set[bytes]] = {}
    for body, kwargs in sent:
        event_id = json.loads(body)["event_id"]
        by_id.setdefault(event_id, set()).add(body)
        assert kwargs["headers"]["event-id"] == kwargs["correlation_id"] == event_id
        assert kwargs["key"] == PATIENT.encode()
    assert {k: len(v) for k, v in by_id.items()} == {domain.event_id(doc_id, "v1"): 1,
                                                      domain.event_id(doc_id, "v2"): 1}
    first = json.loads(next(iter(by_id[domain.event_id(doc_id, "v1")])))
    assert (first["change"], first["version"], first["title"]) == ("added", 1, "Hémogramme complet")
    assert [e["version"] for e in events] == [1, 2, 1, 2, 1]


async def test_one_event_per_document_and_version_when_a_batch_is_redelivered() -> None:
    store, dead, events = MemoryStore(), DeadLetterRecorder(), []
    ingest = ingestor(store, dead, events)
    batch = [record("R1", 1, message_id="v1"),
             record("R1", 2, message_id="v2", status="cancelled", observations=[],
                    reported_at="2026-11-20T16:00:00+01:00"),
             record("R1", 3, message_id="v1")]  # a duplicate inside the batch: its event goes out once
    await ingest.handle(batch)
    await ingest.handle(batch)
    ids = {(e["document_id"], e["version"]): {x["event_id"] for x in events
                                               if (x["document_id"], x["version"]) == (e["document_id"],
                                                                                       e["version"])}
           for e in events}
    assert all(len(v) == 1 for v in ids.values()) and len(ids) == 2
    assert [e["change"] for e in events] == ["added", "withdrawn", "added", "withdrawn"]


async def test_a_batch_retried_while_the_database_is_down_dead_letters_its_invalid_records_once() -> None:
    """Issue 16: each retry of the waiting batch wrote its invalid records to the DLQ again."""
    store, dead, events = MemoryStore(fail_writes=2), DeadLetterRecorder(), []
    ingest = ingestor(store, dead, events)
    bad = signed(b"LAB1:BAD", b"{}", 2)
    batch = [record("R1", 1), bad, record("R3", 3)]
    for _ in range(2):  # what the middleware does while the database is away
        with pytest.raises(AutoReconnect):
            await ingest.handle(batch)
        assert dead.sent == []
    await ingest.handle(batch)
    assert [(key, kind) for key, kind, _ in dead.sent] == [(b"LAB1:BAD", "invalid")]
    assert sorted(d["report_id"] for d in store.docs.values()) == ["R1", "R3"]


async def test_a_version_stored_before_events_were_kept_re_sends_an_event_built_from_that_version() -> None:
    store, dead, events = MemoryStore(), DeadLetterRecorder(), []
    ingest = ingestor(store, dead, events)
    await ingest.handle([record("R1", 1, message_id="v1")])
    await ingest.handle([record("R1", 2, message_id="v2", title="Autre titre", status="corrected",
                                reported_at="2026-11-20T16:00:00+01:00")])
    for doc in store.docs.values():  # as an older worker stored it
        for version in doc["versions"]:
            version.pop("event")
    await ingest.handle([record("R1", 1, message_id="v1")])
    assert (events[-1]["title"], events[-1]["version"], events[-1]["change"]) == ("Hémogramme complet", 1, "added")
