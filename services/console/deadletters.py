"""Dead letters for operations: inspect the newest records of a `.dlq` topic, replay one to its source topic.

A replay publishes the original key and value bytes to the source topic with a `dsp-replayed-from` header;
the worker's idempotency keys make a replay of something already applied harmless. Every replay is audited
(who, which record, when) in the console's own collection."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo.asynchronous.collection import AsyncCollection

from schemas.topics import TOPICS

log = structlog.get_logger("dsp.console")
DLQ_TOPICS = {f"{t.name}.dlq": t.name for t in TOPICS}


class NotFound(LookupError):
    pass


def _record(r: Any) -> dict[str, Any]:
    headers = {k: v.decode(errors="replace") for k, v in (r.headers or ())}
    value = (r.value or b"")[:2000].decode(errors="replace")
    return {"topic": r.topic, "partition": r.partition, "offset": r.offset, "reason": headers.get("dlq-reason", ""),
            "kind": headers.get("dlq-kind", ""), "service": headers.get("dlq-service", ""),
            "failed_at": headers.get("dlq-failed-at", ""), "replayed": "dsp-replayed-from" in headers,
            "value_preview": value}


class DeadLetters:
    def __init__(self, bootstrap: str, audit: AsyncCollection[dict[str, Any]]) -> None:
        self.bootstrap, self.audit = bootstrap, audit
        self.producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self.producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True,
                                         client_id="dsp-console")
        await self.producer.start()

    async def stop(self) -> None:
        if self.producer:
            await self.producer.stop()

    async def newest(self, topic: str, limit: int = 20) -> list[dict[str, Any]]:
        if topic not in DLQ_TOPICS or self.producer is None:
            raise NotFound(f"not a dead-letter topic: {topic}")
        parts = [TopicPartition(topic, p) for p in sorted(await self.producer.partitions_for(topic))]
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False)
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
        return [_record(r) for r in found[:limit]]

    async def replay(self, topic: str, partition: int, offset: int, operator: str, now: datetime) -> dict[str, Any]:
        if topic not in DLQ_TOPICS or self.producer is None:
            raise NotFound(f"not a dead-letter topic: {topic}")
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False)
        await consumer.start()
        try:
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, offset)
            batch = await consumer.getmany(tp, timeout_ms=3000, max_records=1)
            records = batch.get(tp, [])
        finally:
            await consumer.stop()
        if not records or records[0].offset != offset:
            raise NotFound("no such dead letter")
        record, source = records[0], DLQ_TOPICS[topic]
        headers = [(k, v) for k, v in (record.headers or ()) if not k.startswith("dlq-")]
        headers.append(("dsp-replayed-from", f"{topic}/{partition}/{offset}".encode()))
        sent = await self.producer.send_and_wait(source, record.value, key=record.key, headers=headers)
        entry = {"_id": f"{topic}/{partition}/{offset}@{now.isoformat()}", "dlq": topic, "partition": partition,
                 "offset": offset, "source": source, "replayed_to_offset": sent.offset,
                 "replayed_to_partition": sent.partition, "operator": operator, "at": now}
        await self.audit.insert_one(entry)
        log.info("dead letter replayed", dlq=topic, partition=partition, offset=offset, operator=operator)
        return {k: v for k, v in entry.items() if k != "at"} | {"at": now.isoformat()}
