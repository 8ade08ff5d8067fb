"""Dead letters for operations: list the newest records of a `.dlq` topic (what every operator sees: where, when,
why — never the payload), read one (its payload, masked unless asked otherwise), replay one to its source topic.

A replay publishes the original key and value bytes to the source topic with a `dsp-replayed-from` header;
the worker's idempotency keys make a replay of something already applied harmless. The caller (the console's
app) audits every payload view and replay with the authenticated operator before it happens."""

from __future__ import annotations

import json
import time
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaTimeoutError

from schemas.topics import FILE_MESSAGE_BYTES, TOPICS

from ..domain.masking import mask_digits, mask_key, preview

log = structlog.get_logger("dsp.console")
DLQ_TOPICS = {f"{t.name}.dlq": t.name for t in TOPICS}
FETCH_WITHIN_S = 15.0  # how long `one` waits for a dead letter that is there before answering 503


class NotFound(LookupError):
    pass


def _headers(r: Any) -> dict[str, str]:
    return {k: v.decode(errors="replace") for k, v in (r.headers or ())}


def _summary(r: Any) -> dict[str, Any]:
    """What any operator may see: where, when and why — the reason never echoes input values and is redacted when
    written (kit.deadletter); masked here again, for dead letters written before that (or by another writer)."""
    headers = _headers(r)
    return {"topic": r.topic, "partition": r.partition, "offset": r.offset,
            "reason": mask_digits(headers.get("dlq-reason", "")),
            "kind": headers.get("dlq-kind", ""), "service": headers.get("dlq-service", ""),
            "exception_type": headers.get("dlq-exception-type", ""), "failed_at": headers.get("dlq-failed-at", ""),
            "replayed": "dsp-replayed-from" in headers}


def payload(r: Any, masked: bool = True) -> dict[str, Any]:
    """A dead letter with its key, headers and value preview (digit runs and values masked unless `masked` is
    False)."""
    headers = {k: mask_digits(v) if masked else v for k, v in _headers(r).items()}
    return {**_summary(r), "key": mask_key(r.key, masked), "headers": headers, "value": preview(r.value, masked)}


class DeadLetters:
    def __init__(self, bootstrap: str, kafka: dict[str, Any] | None = None) -> None:
        self.bootstrap = bootstrap
        self.kafka = {**(kafka or {}), "bootstrap_servers": bootstrap}  # the console's principal (kit.kafka_auth)
        self.producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self.producer = AIOKafkaProducer(**self.kafka, acks="all", enable_idempotence=True,
                                         client_id="dsp-console", max_request_size=FILE_MESSAGE_BYTES)  # replays
        await self.producer.start()

    async def stop(self) -> None:
        if self.producer:
            await self.producer.stop()

    async def newest(self, topic: str, limit: int = 20) -> list[dict[str, Any]]:
        if topic not in DLQ_TOPICS or self.producer is None:
            raise NotFound(f"not a dead-letter topic: {topic}")
        parts = [TopicPartition(topic, p) for p in sorted(await self.producer.partitions_for(topic))]
        consumer = AIOKafkaConsumer(**self.kafka, group_id=None, enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign(parts)
            ends, starts = await consumer.end_offsets(parts), await consumer.beginning_offsets(parts)
            for tp in parts:
                consumer.seek(tp, max(starts[tp], ends[tp] - limit))
            found: list[Any] = []
            for _ in range(20):  # at most ~10 s: the records are already there
                if all([await consumer.position(tp) >= ends[tp] for tp in parts]):
                    break
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    found += records
        finally:
            await consumer.stop()
        found.sort(key=lambda r: r.timestamp, reverse=True)
        return [_summary(r) for r in found[:limit]]

    async def one(self, topic: str, partition: int, offset: int) -> Any:
        """The record at (`topic`, `partition`, `offset`) of a dead-letter topic, else NotFound. One that is there
        (inside the partition's offsets) but slow to come, as from a loaded broker, is waited for up to
        FETCH_WITHIN_S, then a KafkaTimeoutError (answered 503 "try again"), never a 404."""
        if topic not in DLQ_TOPICS or self.producer is None:
            raise NotFound(f"not a dead-letter topic: {topic}")
        if partition not in (await self.producer.partitions_for(topic) or set()):
            raise NotFound("no such dead letter")
        consumer = AIOKafkaConsumer(**self.kafka, group_id=None, enable_auto_commit=False)
        await consumer.start()
        try:
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            start, end = (await consumer.beginning_offsets([tp]))[tp], (await consumer.end_offsets([tp]))[tp]
            if not start <= offset < end:
                raise NotFound("no such dead letter")
            consumer.seek(tp, offset)
            deadline = time.monotonic() + FETCH_WITHIN_S
            while time.monotonic() < deadline:
                records = (await consumer.getmany(tp, timeout_ms=500, max_records=1)).get(tp, [])
                if records:
                    if records[0].offset != offset:  # nothing at that offset any more (compacted away)
                        raise NotFound("no such dead letter")
                    return records[0]
        finally:
            await consumer.stop()
        raise KafkaTimeoutError(f"the dead letter was not fetched within {FETCH_WITHIN_S:.0f} s")

    async def send(self, topic: str, key: str, body: dict[str, Any]) -> None:
        """A command from the console (helpdesk), acknowledged by every replica of the topic."""
        if self.producer is None:
            raise NotFound("the console is not started")
        await self.producer.send_and_wait(topic, json.dumps(body).encode(), key=key.encode())

    async def replay(self, record: Any, operator: str) -> dict[str, Any]:
        """Publish a dead letter (from `one`) again to its source topic; where it went."""
        if self.producer is None:
            raise NotFound("the console is not started")
        topic, partition, offset, source = record.topic, record.partition, record.offset, DLQ_TOPICS[record.topic]
        headers = [(k, v) for k, v in (record.headers or ()) if not k.startswith("dlq-")]
        headers += [("dsp-replayed-from", f"{topic}/{partition}/{offset}".encode()),
                    ("dsp-replayed-by", operator.encode())]  # the authenticated operator, never a typed name
        sent = await self.producer.send_and_wait(source, record.value, key=record.key, headers=headers)
        log.info("dead letter replayed", dlq=topic, partition=partition, offset=offset, operator=operator)
        return {"dlq": topic, "partition": partition, "offset": offset, "source": source,
                "replayed_to_partition": sent.partition, "replayed_to_offset": sent.offset}
