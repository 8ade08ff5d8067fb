"""The ingest service's batch handling, with an in-memory store: a poison record is isolated and dead-lettered
alone; the rest of its batch is stored; dependency failures are left to the middleware's wait loop."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from pymongo.errors import AutoReconnect

from services.records import domain
from services.records.ingest import Ingestor
from tests.support import encode, lab_result

PATIENT = "1893120105732"


class MemoryStore:
    def __init__(self, poison_report: str | None = None, down: bool = False) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, str] = {}
        self.poison = domain.document_id("LAB1", poison_report) if poison_report else None
        self.down = down

    async def known_persons(self, matricules: set[str]) -> set[str]:
        if self.down:
            raise AutoReconnect("database down")
        return matricules & {PATIENT}

    async def park(self, entries: list[dict[str, Any]]) -> None: ...

    async def claim_messages(self, owners: dict[str, str]) -> dict[str, str]:
        earlier = {k: self.messages[k] for k in owners if k in self.messages}
        self.messages.update({k: v for k, v in owners.items() if k not in earlier})
        return earlier

    async def insert_new_documents(self, docs: list[dict[str, Any]]) -> set[str]:
        if any(d["_id"] == self.poison for d in docs):
            raise RuntimeError("this document cannot be written")
        existing = {d["_id"] for d in docs if d["_id"] in self.docs}
        self.docs.update({d["_id"]: d for d in docs if d["_id"] not in existing})
        return existing

    async def load(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        return {i: self.docs[i] for i in ids if i in self.docs}

    async def save_documents(self, docs: list[dict[str, Any]]) -> None:
        self.docs.update({d["_id"]: d for d in docs})

    async def put_file(self, *args: Any) -> None: ...


class DeadLetterRecorder:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, str, str]] = []

    async def publish(self, record: Any, why: str, exc: BaseException, kind: str) -> None:
        self.sent.append((record.key, kind, why))


def record(report: str, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic="lab.results.v1", partition=0, offset=offset, timestamp=1_763_800_000_000,
                          timestamp_type=0, key=f"LAB1:{report}".encode(),
                          value=encode(lab_result("LAB1", report=report, message_id=f"m-{report}")),
                          checksum=None, serialized_key_size=0, serialized_value_size=0, headers=())


def ingestor(store: MemoryStore, dead: DeadLetterRecorder, events: list[Any]) -> Ingestor:
    async def send_event(body: Any, **kwargs: Any) -> Any:
        events.append(body)
        done: Any = __import__("asyncio").get_running_loop().create_future()
        done.set_result(None)
        return done

    return Ingestor(store, dead, send_event, send_event, lambda: datetime(2026, 11, 22, tzinfo=UTC),  # type: ignore[arg-type]
                    lambda m: "ref", max_attempts=3)


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
    reused = ConsumerRecord(topic="lab.results.v1", partition=0, offset=2, timestamp=1_763_800_000_000,
                            timestamp_type=0, key=b"LAB1:R2",
                            value=encode(lab_result("LAB1", report="R2", message_id="m-R1")),
                            checksum=None, serialized_key_size=0, serialized_value_size=0, headers=())
    await ingestor(store, dead, events).handle([record("R1", 1), reused])
    assert sorted(d["report_id"] for d in store.docs.values()) == ["R1"]
    assert dead.sent == [(b"LAB1:R2", "invalid", "message_id was already used for another report")]
