"""The use case "ingest lab results", in batches: verify who signed them, validate, park unknown patients, fold
versions, bulk-write, emit events.

Each result's laboratory signature is checked first (`domain.provenance`): a refused one is dead-lettered with the
reason, one signed with a key id not announced yet waits whole in `awaiting_key` (released by the announcement, as a
result for an unknown patient waits in `parked`), and the verified provenance is kept with each version. FHIR bundles
are checked the same way, mapped and sent on through lab.results.v1 sealed by records (`forward_fhir`).

Every step is idempotent, so a batch that fails on a dependency is simply processed again (the
middleware waits and retries it); a batch that fails for another reason is split, and the record
that keeps failing goes to the DLQ alone — a poison message never holds back its partition.

What a batch's versions do to their documents, and the events they cause, is `domain.folding` (pure). A batch's dead
letters are written after its documents, so a batch waiting for the database writes them once, not per retry.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeAlias

import structlog
from aiokafka import ConsumerRecord
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from schemas.lab_result import LabResultKey, LabResultV1
from schemas.topics import LAB_RESULTS, LAB_RESULTS_FHIR
from services.kit import labsign
from services.kit.deadletter import DeadLetters, RetryPolicy
from services.kit.errors import TRANSIENT, reason

from ..domain import documents, fhir, provenance
from ..domain.folding import Arrival, fold
from ..store.protocol import Store
from .directory import Directory
from .metrics import RecordsMetrics

log = structlog.get_logger("dsp.records")
Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
Send = Callable[..., Awaitable[Any]]  # FastStream publisher.publish(..., no_confirm=True) -> future


def arrivals(items: list[Parsed]) -> list[Arrival]:
    return [Arrival(p.result, datetime.fromtimestamp(p.record.timestamp / 1000, UTC), p.provenance) for p in items]


def _signature_header(signature: str | None) -> dict[str, str] | None:
    return {labsign.HEADER: signature} if signature else None


@dataclass(frozen=True)
class Parsed:
    record: Record
    result: LabResultV1
    attachment: bytes | None  # decoded once, when it is checked
    provenance: provenance.Provenance

    @functools.cached_property  # asked several times per batch; a name-based UUID is a SHA-1 each time
    def doc_id(self) -> str:
        return documents.document_id(self.result.laboratory_id, self.result.report_id)

    @functools.cached_property
    def message_key(self) -> str:
        return f"{self.result.laboratory_id}\x1f{self.result.message_id}"


class Ingestor:
    def __init__(self, store: Store, dead_letters: DeadLetters, send_event: Send, send_lab_result: Send,
                 clock: Callable[[], datetime], pseudonym: Callable[[str], str], max_attempts: int = 3,
                 metrics: RecordsMetrics | None = None, *, directory: Directory, sealer: Ed25519PrivateKey,
                 send_fhir: Send | None = None) -> None:
        """`directory`: the laboratories and their keys; `sealer`: records' own key (it seals the results it maps
        from FHIR); `send_fhir`: to lab.results.fhir.v1 (a bundle that waited for its key)."""
        self.store, self.dead_letters, self.clock, self.pseudonym = store, dead_letters, clock, pseudonym
        self.send_event, self.send_lab_result, self.send_fhir = send_event, send_lab_result, send_fhir
        self.directory, self.laboratories = directory, directory.laboratories
        self.sealer, self.seal = sealer, sealer.public_key()
        self.retry = RetryPolicy(max_attempts)  # the middleware's policy, applied record by record
        self.metrics = metrics or RecordsMetrics(CollectorRegistry())

    async def handle(self, records: Sequence[Record]) -> None:
        try:
            await self._handle(records)
        except TRANSIENT:
            raise
        except Exception:  # noqa: BLE001 - split the batch to find the record at fault
            log.warning("batch failed; processing its records one by one", size=len(records))
            for record in records:
                await self._one(record)

    async def _one(self, record: Record) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._handle([record])
                return
            except TRANSIENT:
                raise
            except Exception as exc:  # noqa: BLE001
                if self.retry.gives_up(attempt):
                    if await self.dead_letters.publish(record, self.retry.why(attempt, exc), exc, "failed"):
                        self.metrics.count("failed")
                    return

    async def _handle(self, records: Sequence[Record]) -> None:
        now = self.clock()
        rejected: list[tuple[Record, Exception]] = []
        waiting: list[tuple[Record, str]] = []
        parsed = [p for p in [self._parse(r, now, rejected, waiting) for r in records] if p is not None]
        await self._await_keys(waiting, now)
        known = await self.store.known_persons({p.result.patient_matricule for p in parsed})
        await self._park([p for p in parsed if p.result.patient_matricule not in known], now)
        ready = [p for p in parsed if p.result.patient_matricule in known]
        owners: dict[str, str] = {}
        for p in ready:  # within a batch too, the first result to use a message id owns it
            owners.setdefault(p.message_key, p.doc_id)
        earlier = await self.store.claim_messages(owners)
        accepted = []
        for p in ready:
            if earlier.get(p.message_key, owners[p.message_key]) != p.doc_id:
                rejected.append((p.record, documents.Rejected("message_id was already used for another report")))
            else:
                accepted.append(p)
        await self._store(accepted, now)
        for record, exc in rejected:  # last: a batch retried while a dependency is down writes them once
            await self._reject(record, exc)

    def _parse(self, record: Record, now: datetime, rejected: list[tuple[Record, Exception]],
               waiting: list[tuple[Record, str]]) -> Parsed | None:
        """Who signed it (before anything else), then its contract and rules; None: refused or waiting."""
        try:
            signed = provenance.check(labsign.signature_of(record.headers), record.topic, record.key,
                                      record.value or b"", self.laboratories.key, self.seal)
            if isinstance(signed, provenance.AwaitingKey):
                waiting.append((record, signed.kid))
                return None
            result = LabResultV1.model_validate_json(record.value or b"")
            documents.check_key(LabResultKey.parse(record.key), result)
            provenance.claim(signed.laboratory_id, result.laboratory_id)
            documents.check_times(result, now)
            attachment = None
            if result.attachment is not None:
                attachment = base64.b64decode(result.attachment.data_base64)
                documents.sniff(result.attachment.content_type, attachment)
        except (ValidationError, ValueError) as exc:
            rejected.append((record, exc))
            return None
        return Parsed(record, result, attachment, signed)

    async def _reject(self, record: Record, exc: Exception) -> None:
        if await self.dead_letters.publish(record, reason(exc), exc, "invalid"):
            self.metrics.count("rejected")

    async def _store(self, accepted: list[Parsed], now: datetime) -> None:
        """The batch's documents already stored (corrections, redeliveries) are read first, by `_id`: the new ones
        are then inserted at once without a duplicate among them (FerretDB inserts a batch holding one document
        by document: 500 lab results with 75 stored took 160 ms instead of 86), the stored ones updated."""
        by_doc: dict[str, list[Parsed]] = {}
        for p in accepted:  # in partition order
            by_doc.setdefault(p.doc_id, []).append(p)
        current = await self.store.load(sorted(by_doc))
        folds = {doc_id: fold(current.get(doc_id), arrivals(items), now) for doc_id, items in by_doc.items()}
        for p in accepted:
            if p.result.attachment is not None and p.attachment is not None:  # before the document pointing to it
                await self.store.put_file(documents.version_id(p.result.laboratory_id, p.result.message_id),
                                          p.attachment, p.result.attachment.content_type)
        raced = await self.store.insert_new_documents([f.doc for i, f in folds.items() if i not in current])
        if raced:  # stored meanwhile by another consumer of the partition (a rebalance): fold onto theirs
            current.update(await self.store.load(sorted(raced)))
            folds.update({doc_id: fold(current[doc_id], arrivals(by_doc[doc_id]), now) for doc_id in raced})
        await self.store.save_documents([f.doc for doc_id, f in folds.items() if doc_id in current and f.added])
        # always, new or not: a redelivery repairs a crash between the document and its entry
        await self.store.index_documents([f.doc for f in folds.values()], stored_before=set(current))
        stored_at = self.clock().timestamp()
        for p in accepted:
            self.metrics.latency.observe(max(0.0, stored_at - p.record.timestamp / 1000))
        added = sum(f.added for f in folds.values())
        self.metrics.count("stored", added)
        self.metrics.count("duplicate", len(accepted) - added)
        events = {e.event_id: e for f in folds.values() for e in f.events}  # once per batch
        await asyncio.gather(*[await self.send_event(
            e.text.encode(), key=e.patient.encode(), correlation_id=e.event_id,
            headers={"event-id": e.event_id, "content-type": "application/json"}, no_confirm=True)
            for e in events.values()])
        if accepted:
            log.info("lab results stored", results=len(accepted), documents=len(folds), events=len(events))

    async def _park(self, waiting: list[Parsed], now: datetime) -> None:
        """Results for a patient the registry has not announced yet wait, whole, until the person appears."""
        if not waiting:
            return
        await self.store.park([{
            "_id": documents.version_id(p.result.laboratory_id, p.result.message_id),
            "patient_matricule": p.result.patient_matricule, "key": p.record.key, "value": p.record.value,
            "signature": labsign.signature_of(p.record.headers), "parked_at": now,
            "partition": p.record.partition, "offset": p.record.offset} for p in waiting])
        log.info("lab results parked until the patient is registered", results=len(waiting))
        self.metrics.count("parked", len(waiting))
        patients = {p.result.patient_matricule for p in waiting}
        for matricule in await self.store.known_persons(patients):  # registered meanwhile
            await self.release(matricule)

    async def release(self, matricule: str) -> int:
        """Send a patient's parked results back through lab.results.v1 (same key: same partition, same order), each
        with its signature: it is checked again when it comes back."""
        parked = arrival_order(await self.store.parked_for(matricule))
        await asyncio.gather(*[await self.send_lab_result(p["value"], key=p["key"], no_confirm=True,
                                                          headers=_signature_header(p.get("signature")))
                               for p in parked])
        await self.store.unpark([p["_id"] for p in parked])
        if parked:
            self.metrics.count("released", len(parked))
            log.info("parked lab results released", results=len(parked), patient_ref=self.pseudonym(matricule))
        return len(parked)

    async def _await_keys(self, waiting: list[tuple[Record, str]], now: datetime) -> None:
        """Results signed with a key id nobody announced yet wait, whole, until the directory announces it. Then the
        directory is read again: a key another replica stored meanwhile releases them at once (its announcement may
        have been handled before they were put here)."""
        if not waiting:
            return
        await self.store.await_key([{
            "_id": f"{kid}|{_digest(r)}", "kid": kid, "topic": r.topic, "key": r.key, "value": r.value,
            "signature": labsign.signature_of(r.headers), "parked_at": now, "partition": r.partition,
            "offset": r.offset} for r, kid in waiting])
        kids = sorted({kid for _, kid in waiting})
        log.info("lab results wait for their laboratory's key to be announced", results=len(waiting), keys=kids)
        self.metrics.count("awaiting-key", len(waiting))
        await self.directory.load()
        for kid in kids:
            if self.laboratories.key(kid) is not None:
                await self.release_key(kid)

    async def release_key(self, kid: str) -> int:
        """Send the results that waited for key `kid` back to the topic they came on, with their signature."""
        waiting = arrival_order(await self.store.awaiting(kid))
        sends = []
        for w in waiting:
            send = self.send_fhir if w["topic"] == LAB_RESULTS_FHIR.name and self.send_fhir else self.send_lab_result
            sends.append(await send(w["value"], key=w["key"], headers=_signature_header(w.get("signature")),
                                    no_confirm=True))
        await asyncio.gather(*sends)
        await self.store.release_awaiting([w["_id"] for w in waiting])
        if waiting:
            self.metrics.count("released", len(waiting))
            log.info("lab results released: their laboratory's key is announced", results=len(waiting), kid=kid)
        return len(waiting)

    async def forward_fhir(self, record: Record) -> None:
        """A FHIR bundle: who signed it, then mapped and sent on through lab.results.v1 as JSON sealed by records
        (the laboratory's provenance in the seal); Rejected with the reason."""
        signed = provenance.check(labsign.signature_of(record.headers), record.topic, record.key, record.value or b"",
                                  self.laboratories.key)
        if isinstance(signed, provenance.AwaitingKey):
            await self._await_keys([(record, signed.kid)], self.clock())
            return
        result = fhir.to_lab_result(record.value or b"")
        provenance.claim(signed.laboratory_id, result.laboratory_id)
        value = result.model_dump_json(exclude_none=True).encode()
        key = f"{result.laboratory_id}:{result.report_id}".encode()
        await self.send_lab_result(value, key=key, headers={
            "dsp-source-topic": LAB_RESULTS_FHIR.name,
            labsign.HEADER: provenance.seal(self.sealer, signed, LAB_RESULTS.name, key, value)})


def arrival_order(held: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Held results in the order they first arrived (when held, then partition and offset), so that sending them back
    keeps a report's original before its correction: the store lists them by `_id`, a digest or a message id, which
    says nothing of their order (results held before the offset was kept come first, in that order)."""
    return sorted(held, key=lambda h: (h["parked_at"].timestamp() if h.get("parked_at") else 0.0,
                                       h.get("partition", -1), h.get("offset", -1)))


def _digest(record: Record) -> str:
    """What tells two waiting records apart (the same record again is kept once)."""
    parts = [record.topic.encode(), record.key or b"", record.value or b""]
    return hashlib.sha256(b"\x1f".join(parts)).hexdigest()[:32]
