"""The audit chains' heads, checkpointed outside access's database: on `access.audit-heads.v1`, a compacted topic
only access may write (infra/kafka_acls.py), keyed by a keyed pseudonym of the patient, each value access's signed
statement of the chain's head (`signing.AuditSigner.checkpoint`).

- Writing: an append only notes its new head (`note`, a dict update — no Kafka round trip on the decision's path);
  a background task (`run`) signs and publishes each chain's newest head every `interval_s`, coalesced per patient.
  So the entries appended in the last interval (and while Kafka is unreachable) are not yet checkpointed: they are
  keyed, so a forgery among them is still found, but their removal is not until the next checkpoint. The
  signatures (Ed25519, ~57 µs each here) are made on a thread of their own and the records sent by a plain aiokafka
  producer (~40 µs of the event loop each, where FastStream's `publish` took ~300 µs, measured), so a flush of
  1,000 chains leaves the decisions the event loop.
- Reading: every replica reads the whole topic at start (no consumer group, like `access.changes.v1`) and follows
  it, keeping each chain's newest checkpoint in memory — what `verify-audit-trail` compares the chain with, and
  where a restarted worker continues a chain whose tail was deleted (`audit.resume`).
- The newest wins by seq, not by arrival: two replicas may publish a chain's checkpoints out of order, and the
  topic's compaction keeps the last record per key, so a replica that reads an older checkpoint after a newer one
  publishes the newer one again (the same signed bytes).
- Sealing: the first time access runs with keyed entries, it checkpoints the chains it found (entries from before
  the key) and then a marker record; after that, a chain with no signed entry and no checkpoint is not access's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from schemas.topics import ACCESS_AUDIT_HEADS
from services.kit.commands import Publish

from ..domain import signing
from ..domain.audit import GENESIS, AuditKeys, Checkpoint, Head

log = structlog.get_logger("dsp.access.checkpoints")
# Checkpoints published at once (aiokafka batches them), each chunk acknowledged before the next: a chunk's sends run
# in one turn of the event loop (~40 µs each), so 500 at once held the decisions for ~20 ms twice a second at
# 1,000 decisions/s (a new chain head per decision); 50 hold it ~2 ms.
CHUNK = 50


class CheckpointBook:
    def __init__(self, keys: AuditKeys, signer: signing.AuditSigner, kafka: dict[str, Any],
                 clock: Callable[[], datetime], interval_s: float = 0.5, publish: Publish | None = None) -> None:
        """`kafka`: access's aiokafka client options; `publish(value, key=...)`: how a checkpoint is sent (None: by
        the book's own producer, started by `load`)."""
        self.keys, self.signer, self.kafka = keys, signer, kafka
        self.clock, self.interval_s = clock, interval_s
        self.publish: Publish = publish or self._produce
        self._producer: AIOKafkaProducer | None = None
        self._own_producer = publish is None
        self._signing = ThreadPoolExecutor(1, "audit-sign")  # Ed25519 off the event loop
        self._public = {signer.kid: signer.public}
        self._latest: dict[str, Checkpoint] = {}  # pseudonym -> the newest checkpoint read or published
        self._pending: dict[str, Head] = {}  # pseudonym -> the newest head stored since the last flush
        self._repairs: dict[str, Checkpoint] = {}  # pseudonyms whose newest checkpoint must be published again
        self._marker_due = False
        self._sealing: dict[str, Head] = {}  # the chains found from before the key, checkpointed before the marker
        self._failing = False
        self._consumer: AIOKafkaConsumer | None = None

    @property
    def sealed(self) -> bool:
        return self.keys.marker() in self._latest

    def latest(self, patient: str) -> Checkpoint | None:
        return self._latest.get(self.keys.pseudonym(patient))

    def checked(self, patient: str) -> Checkpoint | None:
        pseudonym = self.keys.pseudonym(patient)
        found = self._latest.get(pseudonym)
        if found is None:
            return None
        try:
            return signing.check_checkpoint(found.token, self._public, pseudonym)
        except signing.BadSignature as exc:
            log.warning("audit checkpoint not signed by access's key; ignored", reason=str(exc))
            return None

    def note(self, patient: str, head: Head) -> None:
        self._note(self.keys.pseudonym(patient), head)

    def _note(self, pseudonym: str, head: Head) -> None:
        waiting = self._pending.get(pseudonym)
        if waiting is None or head.seq > waiting.seq:
            self._pending[pseudonym] = head

    @property
    def waiting(self) -> int:
        """Chains whose newest head is not checkpointed yet."""
        return len(self._pending)

    def seal(self, found: dict[str, Head]) -> None:
        """Checkpoint the chains access found from before its key (`AuditLog.adopted`), then — once they are
        published — the marker: after it, no unsigned chain is ever taken as access's."""
        self._sealing = {self.keys.pseudonym(patient): head for patient, head in found.items()}
        for pseudonym, head in self._sealing.items():
            self._note(pseudonym, head)
        self._marker_due = not self.sealed
        if found:
            log.info("sealing audit chains written before keyed entries", chains=len(found))

    async def load(self) -> int:
        """Read the topic from its beginning to its end (every replica, no group): the newest checkpoint of each
        chain. Then `follow` keeps reading."""
        if self._own_producer:
            self._producer = AIOKafkaProducer(**self.kafka, acks="all", enable_idempotence=True,
                                              client_id="dsp-access-audit-heads")
            await self._producer.start()
        self._consumer = AIOKafkaConsumer(**self.kafka, group_id=None, enable_auto_commit=False,
                                          auto_offset_reset="earliest", client_id="dsp-access-audit-heads")
        consumer = self._consumer
        await consumer.start()
        if ACCESS_AUDIT_HEADS.name not in await consumer.topics():
            raise RuntimeError(f"topic {ACCESS_AUDIT_HEADS.name} is missing: create it (python -m infra topics)")
        parts = [TopicPartition(ACCESS_AUDIT_HEADS.name, p) for p in range(ACCESS_AUDIT_HEADS.partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)

        async def behind() -> bool:
            for part in parts:
                if await consumer.position(part) < ends[part]:
                    return True
            return False

        read = 0
        while await behind():
            read += self._take_all(await consumer.getmany(*parts, timeout_ms=1000))
        log.info("audit checkpoints loaded", records=read, chains=len(self._latest), sealed=self.sealed)
        return read

    async def run(self, stop: asyncio.Event) -> None:
        """Publish the noted heads every `interval_s` and follow the other replicas' checkpoints, until `stop`."""
        follower = asyncio.create_task(self._follow(stop))
        try:
            while not stop.is_set():
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.interval_s)
                except TimeoutError:
                    pass
                await self._flush_logged()  # at a stop too: the last heads go out before the worker ends
        finally:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
            if self._consumer is not None:
                await self._consumer.stop()
            if self._producer is not None:
                await self._producer.stop()
            self._signing.shutdown(wait=False)

    async def _flush_logged(self) -> None:
        try:
            await self.flush()
        except Exception as exc:  # noqa: BLE001 - the heads stay noted or are noted again by the next append
            log.warning("audit checkpoint flush failed; retrying", error=type(exc).__name__)

    async def _follow(self, stop: asyncio.Event) -> None:
        assert self._consumer is not None  # noqa: S101 - load() ran at start-up
        while not stop.is_set():
            try:
                self._take_all(await self._consumer.getmany(timeout_ms=1000))
            except KafkaError as exc:  # the client reconnects by itself; the outage log says the rest
                log.warning("audit checkpoints not read; retrying", error=type(exc).__name__)
                await asyncio.sleep(1)

    def _take_all(self, batches: dict[TopicPartition, list[Any]]) -> int:
        count = 0
        for records in batches.values():
            for record in records:
                count += 1
                self._take_record(record.key, record.value)
        return count

    def _take_record(self, key: bytes | None, value: bytes | None) -> None:
        pseudonym = (key or b"").decode("ascii", "replace")
        try:
            token = json.loads(value or b"")["jws"]
            found = signing.read_checkpoint(str(token), pseudonym)
        except (ValueError, KeyError, TypeError):
            log.warning("a record on the audit checkpoint topic is not a checkpoint; ignored")
            return
        self._take(pseudonym, found)

    def _take(self, pseudonym: str, found: Checkpoint) -> None:
        known = self._latest.get(pseudonym)
        if known is None or found.seq > known.seq:
            self._latest[pseudonym] = found
            self._repairs.pop(pseudonym, None)
        elif found.seq < known.seq:  # an older one arrived last: compaction would keep it, so say the newer again
            self._repairs[pseudonym] = known

    async def flush(self) -> int:
        """Sign and publish the newest head of each chain noted since the last flush (those already checkpointed
        by another replica are left out), the repairs, then the seal's marker if due; how many were published."""
        pending, self._pending = self._pending, {}
        repairs, self._repairs = self._repairs, {}
        try:
            return await self._publish(pending, repairs)
        except BaseException:  # interrupted (a stop, a bug): nothing noted is lost — published ones are skipped
            for pseudonym, head in pending.items():
                self._note(pseudonym, head)
            for pseudonym, found in repairs.items():
                self._repairs.setdefault(pseudonym, found)
            raise

    async def _publish(self, pending: dict[str, Head], repairs: dict[str, Checkpoint]) -> int:
        at = int(self.clock().timestamp())
        due = [(p, head) for p, head in pending.items() if p not in self._latest or self._latest[p].seq < head.seq]
        made = await asyncio.get_running_loop().run_in_executor(self._signing, self._sign, due, at) if due else []
        sends = [(p, found, False) for p, found in made]
        sends += [(p, found, True) for p, found in repairs.items() if self._latest.get(p) is found]
        failed = 0
        for start in range(0, len(sends), CHUNK):
            chunk = sends[start:start + CHUNK]
            results = await asyncio.gather(*(self._send(p, found) for p, found, _ in chunk), return_exceptions=True)
            for (pseudonym, found, repair), result in zip(chunk, results, strict=True):
                if not isinstance(result, BaseException):
                    self._take(pseudonym, found)
                    continue
                failed += 1  # kept for the next flush (unless something newer is noted by then)
                if repair:
                    self._repairs.setdefault(pseudonym, found)
                else:
                    self._note(pseudonym, found.head)
        if self._marker_due and all(p in self._latest and self._latest[p].seq >= head.seq
                                    for p, head in self._sealing.items()):
            marker = self.signer.checkpoint(self.keys.marker(), Head(-1, GENESIS), at)
            try:
                await self._send(self.keys.marker(), marker)
            except Exception:  # noqa: BLE001 - tried again at the next flush
                failed += 1
            else:
                self._take(self.keys.marker(), marker)
                self._marker_due, self._sealing = False, {}
                log.info("audit chains sealed: every chain access found is checkpointed")
        self._outage(failed)
        return len(sends) - failed

    def _sign(self, due: list[tuple[str, Head]], at: int) -> list[tuple[str, Checkpoint]]:
        return [(pseudonym, self.signer.checkpoint(pseudonym, head, at)) for pseudonym, head in due]

    async def _send(self, pseudonym: str, found: Checkpoint) -> None:
        await self.publish({"jws": found.token}, key=pseudonym.encode())

    async def _produce(self, value: dict[str, Any], key: bytes) -> None:
        if self._producer is None:
            raise RuntimeError("the checkpoint producer is not started (load() starts it)")
        sent = await self._producer.send(ACCESS_AUDIT_HEADS.name, json.dumps(value).encode(), key=key)
        await sent  # acknowledged by every in-sync replica (acks=all)

    def _outage(self, failed: int) -> None:
        if failed and not self._failing:
            log.warning("audit checkpoints not published (Kafka unreachable?); kept, retrying", waiting=failed)
        elif not failed and self._failing:
            log.info("audit checkpoints published again")
        self._failing = bool(failed)
