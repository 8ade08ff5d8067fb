"""Dead-letter middleware: bad input and repeated failures go to `<topic>.dlq` with the original bytes.

FastStream has no DLQ of its own. This middleware wraps every handler call:
- bad input (contract violation, undecodable bytes): one DLQ record, then the offset is committed;
- a dependency down (MongoDB, Kafka): wait with capped exponential backoff, one log line, never a DLQ;
- any other failure: retried up to `max_attempts`, then a DLQ record.
The DLQ record's value and key are the original bytes; headers say why and where it came from.

Once, and named: every dead letter carries `dlq-id`, a deterministic id of (consumer group, source topic,
partition, offset), and a worker writes a given dead letter once however often the record is retried (a batch
waiting for the database, an offset commit lost to a broker restart). After a crash before the offset was
committed the same dead letter can be written again — with the same `dlq-id`, so its consumers de-duplicate.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer, ConsumerRecord
from faststream import BaseMiddleware, StreamMessage
from prometheus_client import CollectorRegistry, Counter

from schemas.topics import FILE_MESSAGE_BYTES

from .errors import TRANSIENT, is_bad_input, reason
from .logging import redact_text

log = structlog.get_logger("dsp.deadletter")
NAMESPACE = uuid.UUID("0b7d6a52-3c1e-5f08-9d4b-6e2a1c8f7d19")
REMEMBERED = 100_000  # dead letters a worker remembers having written (about 10 MB)


def dead_letter_id(group: str, topic: str, partition: int, offset: int) -> str:
    """The `dlq-id` header: the same source record failing in the same consumer group always gets the same id."""
    return str(uuid.uuid5(NAMESPACE, "\x1f".join((group, topic, str(partition), str(offset)))))


@dataclass(frozen=True)
class RetryPolicy:
    """The mesh's one retry policy (`DSP_MAX_ATTEMPTS`, `DSP_RETRY_BACKOFF_MAX_S`): a failing message is tried
    `max_attempts` times in all, then dead-lettered; a dependency down is waited for, never counted. Used by
    this middleware, by records' batch ingest (record by record) and by notify (a channel's refusals)."""

    max_attempts: int = 3
    backoff_max_s: float = 30.0

    def gives_up(self, attempt: int) -> bool:
        """Attempt number `attempt` (from 1) failed: no more tries."""
        return attempt >= self.max_attempts

    def backoff(self, failures: int) -> float:
        return min(0.2 * 2.0**failures, self.backoff_max_s)

    def dependency_backoff(self, waits: int) -> float:
        return min(0.5 * 2.0 ** min(waits, 10), self.backoff_max_s)

    @staticmethod
    def why(attempts: int, exc: BaseException) -> str:
        """The dead letter's reason after the last attempt."""
        return f"processing failed {attempts} times: {type(exc).__name__}: {reason(exc)}"


class DeadLetters:
    """Owns the DLQ producer and builds one middleware instance per message (FastStream's factory shape)."""

    def __init__(self, service: str, group_id: str, bootstrap: str, registry: CollectorRegistry,
                 max_attempts: int = 3, backoff_max_s: float = 30.0, kafka: dict[str, Any] | None = None) -> None:
        self.service, self.group_id, self.bootstrap = service, group_id, bootstrap
        self.kafka = kafka or {}  # the service's Kafka credentials (kit.kafka_auth.client_options)
        self.max_attempts, self.backoff_max_s = max_attempts, backoff_max_s
        self.retry = RetryPolicy(max_attempts, backoff_max_s)
        self.producer: AIOKafkaProducer | None = None
        self._written: OrderedDict[str, None] = OrderedDict()
        self.sent = Counter("dsp_dead_letters", "Messages sent to a dead-letter topic",
                            ["service", "topic", "kind"], registry=registry)

    async def start(self) -> None:
        self.producer = AIOKafkaProducer(**{**self.kafka, "bootstrap_servers": self.bootstrap}, acks="all",
                                         enable_idempotence=True, client_id=f"dsp-{self.service}-dlq",
                                         max_request_size=FILE_MESSAGE_BYTES)  # a refused upload, whole
        await self.producer.start()

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()

    async def publish(self, record: ConsumerRecord[Any, Any], why: str, exc: BaseException, kind: str) -> bool:
        """Write the record's dead letter, unless this worker already did (a retried batch, a redelivery after
        a lost commit). True if it was written now. `why` is redacted first (every operator reads it): no
        matricule, however a caller built the reason."""
        if self.producer is None:
            raise RuntimeError("DeadLetters.start() was not awaited")
        why = redact_text(why)
        dlq_id = dead_letter_id(self.group_id, record.topic, record.partition, record.offset)
        if dlq_id in self._written:
            self._written.move_to_end(dlq_id)
            return False
        headers = [*(record.headers or ()), *[(k, v.encode()) for k, v in {
            "dlq-id": dlq_id,
            "dlq-reason": why,
            "dlq-kind": kind,
            "dlq-exception-type": type(exc).__name__,
            "dlq-source-topic": record.topic,
            "dlq-source-partition": str(record.partition),
            "dlq-source-offset": str(record.offset),
            "dlq-service": self.service,
            "dlq-consumer-group": self.group_id,
            "dlq-failed-at": datetime.now(UTC).isoformat(),
        }.items()]]
        await self.producer.send_and_wait(f"{record.topic}.dlq", value=record.value, key=record.key,
                                          headers=headers)
        self._written[dlq_id] = None
        if len(self._written) > REMEMBERED:
            self._written.popitem(last=False)
        self.sent.labels(self.service, record.topic, kind).inc()
        log.warning("message dead-lettered", kind=kind, reason=why, exception_type=type(exc).__name__,
                    dlq_id=dlq_id)
        return True

    def __call__(self, msg: Any, /, *, context: Any) -> _DeadLetterScope:
        return _DeadLetterScope(msg, context=context, owner=self)


class _DeadLetterScope(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: Any, owner: DeadLetters) -> None:
        super().__init__(msg, context=context)
        self.owner = owner

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        record = msg.raw_message
        if not isinstance(record, ConsumerRecord):  # a batch: its handler dead-letters single records itself
            first = record[0]
            with structlog.contextvars.bound_contextvars(topic=first.topic, batch_size=len(record),
                                                         correlation_id=msg.correlation_id):
                return await self._process(call_next, msg, None)
        with structlog.contextvars.bound_contextvars(
            topic=record.topic, partition=record.partition, offset=record.offset,
            correlation_id=msg.correlation_id,
        ):
            return await self._process(call_next, msg, record)

    async def _process(self, call_next: Any, msg: StreamMessage[Any], record: ConsumerRecord[Any, Any] | None) -> Any:
        """`record` None: a batch — dependency waits apply; anything else is the batch handler's to settle."""
        owner, failures, waits, since, logged = self.owner, 0, 0, 0.0, -1e9
        while True:
            try:
                result = await call_next(msg)
                if waits:
                    log.info("dependency back, message processed", waited_s=round(time.monotonic() - since, 1))
                return result
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if record is None and not isinstance(exc, TRANSIENT):
                    raise
                if record is not None and is_bad_input(exc):
                    await self._dead_letter(record, reason(exc), exc, "invalid")
                    return None
                if isinstance(exc, TRANSIENT):
                    now = time.monotonic()
                    since = since if waits else now
                    delay = owner.retry.dependency_backoff(waits)
                    if now - logged >= 60:  # one clear line when the wait starts, then once a minute
                        logged = now
                        log.warning("dependency unreachable; message kept, retrying with backoff",
                                    error=type(exc).__name__, detail=reason(exc, 200),
                                    waited_s=round(now - since, 1), retry_in_s=delay)
                    waits += 1
                    await asyncio.sleep(delay)
                    continue
                failures += 1
                if owner.retry.gives_up(failures) and record is not None:
                    await self._dead_letter(record, owner.retry.why(failures, exc), exc, "failed")
                    return None
                log.warning("processing failed, retrying", attempt=failures, error=type(exc).__name__)
                await asyncio.sleep(owner.retry.backoff(failures))

    async def _dead_letter(self, record: ConsumerRecord[Any, Any], why: str, exc: BaseException, kind: str) -> None:
        while True:  # the DLQ write is itself an effect: until it succeeds, the offset stays uncommitted
            try:
                await self.owner.publish(record, why, exc, kind)
                return
            except TRANSIENT as err:
                log.warning("dead-letter topic unreachable, retrying", error=type(err).__name__)
                await asyncio.sleep(1.0)
