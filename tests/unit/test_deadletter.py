"""The dead-letter middleware's decisions, without Kafka: bad input, dependency down, repeated failure."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import ConsumerRecord
from prometheus_client import CollectorRegistry
from pydantic import ValidationError
from pymongo.errors import AutoReconnect

from schemas.lab_result import LabResultV1
from services.kit import deadletter
from services.kit.deadletter import DeadLetters, dead_letter_id


class Message:
    correlation_id = "c-1"

    def __init__(self) -> None:
        self.raw_message = ConsumerRecord(topic="lab.results.v1", partition=2, offset=41, timestamp=0,
                                          timestamp_type=0, key=b"LAB1:R1", value=b"{}", checksum=None,
                                          serialized_key_size=7, serialized_value_size=2, headers=())


class Recorder(DeadLetters):
    def __init__(self, max_attempts: int = 3) -> None:
        super().__init__("records", "records", "unused:1", CollectorRegistry(), max_attempts, backoff_max_s=4)
        self.published: list[tuple[str, str, str]] = []

    async def publish(self, record: ConsumerRecord[Any, Any], why: str, exc: BaseException, kind: str) -> None:
        self.published.append((kind, why, type(exc).__name__))


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waited: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr(deadletter.asyncio, "sleep", fake_sleep)
    return waited


def failing(*errors: BaseException, result: str = "done") -> Any:
    calls = {"n": 0}

    async def call_next(_msg: Any) -> str:
        calls["n"] += 1
        if calls["n"] <= len(errors):
            raise errors[calls["n"] - 1]
        return result

    call_next.calls = calls  # type: ignore[attr-defined]
    return call_next


async def run(owner: Recorder, call_next: Any) -> Any:
    return await owner(Message(), context=None).consume_scope(call_next, Message())  # type: ignore[arg-type]


async def test_bad_input_is_dead_lettered_at_once(sleeps: list[float]) -> None:
    owner = Recorder()
    try:
        LabResultV1.model_validate_json(b"{}")
    except ValidationError as exc:
        invalid = exc
    call_next = failing(invalid)
    assert await run(owner, call_next) is None
    assert call_next.calls["n"] == 1 and sleeps == []
    kind, why, exc_type = owner.published[0]
    assert (kind, exc_type) == ("invalid", "ValidationError") and why.startswith("message_id: Field required")


async def test_a_dependency_down_is_waited_for_never_dead_lettered(sleeps: list[float]) -> None:
    owner = Recorder(max_attempts=2)
    call_next = failing(*[AutoReconnect("mongo down")] * 6)
    assert await run(owner, call_next) == "done"
    assert owner.published == []
    assert call_next.calls["n"] == 7
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]  # capped exponential backoff


async def test_repeated_failure_goes_to_the_dlq_after_max_attempts(sleeps: list[float]) -> None:
    owner = Recorder(max_attempts=3)
    call_next = failing(*[RuntimeError("bug in handler")] * 10)
    assert await run(owner, call_next) is None
    assert call_next.calls["n"] == 3
    assert owner.published == [("failed", "processing failed 3 times: RuntimeError: bug in handler",
                                "RuntimeError")]


async def test_a_passing_failure_is_retried_and_succeeds(sleeps: list[float]) -> None:
    owner = Recorder(max_attempts=3)
    assert await run(owner, failing(RuntimeError("flaky"))) == "done"
    assert owner.published == [] and len(sleeps) == 1


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes, dict[str, bytes]]] = []

    async def send_and_wait(self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]) -> None:
        self.sent.append((topic, value, key, dict(headers)))


def writer(group: str = "records") -> tuple[DeadLetters, FakeProducer]:
    owner = DeadLetters("records", group, "unused:1", CollectorRegistry(), 3, backoff_max_s=4)
    producer = FakeProducer()
    owner.producer = producer  # type: ignore[assignment]
    return owner, producer


async def test_a_dead_letter_names_itself_and_is_written_once_however_often_it_is_retried(
        sleeps: list[float]) -> None:
    """Issue 16: a batch retried while the database was down, or redelivered after a lost commit, wrote it again."""
    owner, producer = writer()
    record = Message().raw_message
    assert await owner.publish(record, "why", ValueError("bad"), "invalid") is True
    assert await owner.publish(record, "why", ValueError("bad"), "invalid") is False
    assert len(producer.sent) == 1
    topic, value, key, headers = producer.sent[0]
    assert (topic, value, key) == ("lab.results.v1.dlq", b"{}", b"LAB1:R1")
    assert headers["dlq-id"].decode() == dead_letter_id("records", "lab.results.v1", 2, 41)
    assert dead_letter_id("records", "lab.results.v1", 2, 41) == dead_letter_id("records", "lab.results.v1", 2, 41)
    assert dead_letter_id("access", "lab.results.v1", 2, 41) != dead_letter_id("records", "lab.results.v1", 2, 41)
    assert dead_letter_id("records", "lab.results.v1", 2, 42) != dead_letter_id("records", "lab.results.v1", 2, 41)


async def test_a_record_redelivered_to_the_same_worker_is_not_dead_lettered_twice(sleeps: list[float]) -> None:
    owner, producer = writer()
    try:
        LabResultV1.model_validate_json(b"{}")
    except ValidationError as exc:
        invalid = exc
    for _ in range(3):  # the offset commit was lost (broker restart): the same record comes back
        assert await run(owner, failing(invalid)) is None
    assert len(producer.sent) == 1


async def test_a_dead_letter_keeps_the_original_headers_so_a_replayed_result_still_verifies() -> None:
    """The laboratory's signature goes to the DLQ with the record; the console's replay keeps it too."""
    from services.console.service.deadletters import DeadLetters as ConsoleDeadLetters
    from tests.support import laboratory_key

    signer = laboratory_key("LAB1")
    original = Message().raw_message
    original.headers = signer.headers("lab.results.v1", original.key, original.value)
    owner, producer = writer()
    assert await owner.publish(original, "why", ValueError("bad"), "invalid")
    topic, value, key, headers = producer.sent[0]
    assert headers["dsp-lab-signature"] == original.headers[0][1]

    console = ConsoleDeadLetters("unused:1")
    replays: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]] = []

    class Sent:
        partition, offset = 0, 7

    class Replayer:
        async def send_and_wait(self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]) -> Any:
            replays.append((topic, value, key, headers))
            return Sent()

    console.producer = Replayer()  # type: ignore[assignment]
    letter = ConsumerRecord(topic=topic, partition=0, offset=3, timestamp=0, timestamp_type=0, key=key, value=value,
                            checksum=None, serialized_key_size=0, serialized_value_size=0,
                            headers=list(headers.items()))
    await console.replay(letter, "alice")
    [(source, again, again_key, again_headers)] = replays
    kept = dict(again_headers)
    assert source == "lab.results.v1" and not any(k.startswith("dlq-") for k in kept)
    from services.kit import labsign

    assert labsign.verify(kept["dsp-lab-signature"].decode(), labsign.public_key(signer.public), source, again_key,
                          again)["kid"] == signer.kid
