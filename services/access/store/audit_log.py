"""The stored audit trail: entries appended to each patient's chain, sealed with access's key, `_id` = patient:seq
(unique), so two replicas appending at once cannot fork a chain — the loser reloads the head and appends after it.

Appends are group-committed: callers wait until their entry is stored (no audit, no access), while a single
writer task stores whatever is queued in one unordered `insert_many` — at most one entry per patient per
batch, so a duplicate (another replica got there first) never strands a successor with a wrong prev_hash. Each
stored head is noted for the checkpoint (`service/checkpoints.py`); no Kafka call on this path.

A reloaded head is trusted only if access signed it (its MAC holds under the key): an entry someone else wrote
above it is linked past, never vouched for (`audit.resume`), and a tail deleted below the checkpoint is not
written again.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Histogram
from pymongo.asynchronous.collection import AsyncCollection

from services.kit.projection import insert_many_once

from ..domain import audit, audit_check
from ..domain.audit import AuditEntry, AuditKeys, Head
from .protocol import Checkpoints

log = structlog.get_logger("dsp.access.audit")
FIELDS = ("patient", "seq", "at", "actor_kind", "actor_id", "action", "document", "allowed", "reason", "prev_hash",
          "hash", "via", "justification", "mac")
BATCH = 500
PAGE_LOOKUPS = 50  # concurrent _id lookups while reading a page of the trail


def _entry(raw: dict[str, Any] | None) -> AuditEntry | None:
    """A stored entry; None for a document that is not one (written by someone else, unreadable)."""
    if raw is None:
        return None
    try:
        entry = AuditEntry(**{k: raw[k] for k in FIELDS if k in raw})
    except TypeError:
        return None
    ok = (isinstance(entry.patient, str) and type(entry.seq) is int and isinstance(entry.at, datetime)
          and all(isinstance(getattr(entry, k), str) for k in ("prev_hash", "hash", "mac", "via", "justification")))
    return entry if ok else None


def _unreadable(patient: str, raw: dict[str, Any]) -> AuditEntry:
    """What verification sees of a stored document that is not an entry: one whose MAC cannot hold."""
    seq = raw.get("seq")
    if type(seq) is not int:
        suffix = str(raw.get("_id", "")).rpartition(":")[2]
        seq = int(suffix) if suffix.isdigit() else -1
    return AuditEntry(patient, seq, datetime.min, "", "", "", None, False, "", "", "", mac="unreadable")


def _doc_id(patient: str, seq: int) -> str:
    return f"{patient}:{seq:012d}"


def _document(entry: AuditEntry, ref: str | None) -> dict[str, Any]:
    """An entry as stored: its fields, less an empty justification (read back as "", the default, as from before
    the field existed), and the command id it audits, if any: fewer fields for FerretDB to encode per commit."""
    doc = {"_id": _doc_id(entry.patient, entry.seq), **{k: getattr(entry, k) for k in FIELDS}}
    if not entry.justification:
        del doc["justification"]
    if ref is not None:
        doc["ref"] = ref
    return doc


class _Pending:
    __slots__ = ("args", "future", "queued", "ref")

    def __init__(self, args: tuple[Any, ...], ref: str | None, future: asyncio.Future[AuditEntry]) -> None:
        self.args, self.ref, self.future, self.queued = args, ref, future, time.perf_counter()


SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
ENTRIES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class CommitTiming:
    """Where the audit wait goes, on access's `/metrics`: `dsp_access_audit_queue_seconds` (an entry queued until
    its batch's insert starts: the previous commit, heads reloaded), `dsp_access_audit_commit_seconds` (one batch's
    insert, FerretDB's commit and the round trip) and `dsp_access_audit_commit_entries` (entries per commit)."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.queue = Histogram("dsp_access_audit_queue_seconds", "An audit entry's wait for its batch's insert",
                               registry=registry, buckets=SECONDS)
        self.commit = Histogram("dsp_access_audit_commit_seconds", "One group commit of audit entries",
                                registry=registry, buckets=SECONDS)
        self.entries = Histogram("dsp_access_audit_commit_entries", "Audit entries stored per group commit",
                                 registry=registry, buckets=ENTRIES)


class AuditLog:
    def __init__(self, collection: AsyncCollection[dict[str, Any]], keys: AuditKeys, checkpoints: Checkpoints,
                 refs: AsyncCollection[dict[str, Any]] | None = None, timing: CommitTiming | None = None) -> None:
        self.collection, self.keys, self.checkpoints, self.timing = collection, keys, checkpoints, timing
        self.refs = refs if refs is not None else collection.database[f"{collection.name}_refs"]
        self._heads: dict[str, Head | None] = {}
        self._queue: deque[_Pending] = deque()
        self._writer: asyncio.Task[None] | None = None
        self._all_heads_loaded = False
        self.adopted: dict[str, Head] = {}  # chains from before the key, taken as found at the first keyed start

    def _checkpoint(self, patient: str) -> Head | None:
        found = self.checkpoints.latest(patient)
        return found.head if found is not None else None

    async def load_heads(self) -> int:
        """At start: where every chain continues, from one pass over the entries (cheaper than a lookup per patient
        on FerretDB, which scans the collection for each query) and the checkpoints; a chain another replica
        extends later is caught by its unique _id. The first time access runs with keyed entries (no seal on the
        checkpoint topic yet), the chains of older entries are taken as found (`adopted`, checkpointed next)."""
        newest: dict[str, AuditEntry] = {}
        newest_keyed: dict[str, AuditEntry] = {}
        async for raw in self.collection.find({}, {k: 1 for k in FIELDS}):
            entry = _entry(raw)
            if entry is None:
                continue
            for latest in (newest, newest_keyed) if entry.keyed else (newest,):
                if entry.patient not in latest or entry.seq > latest[entry.patient].seq:
                    latest[entry.patient] = entry
        adopt = not self.checkpoints.sealed
        suspicious = []
        for patient, last in newest.items():
            keyed = newest_keyed.get(patient)
            if keyed is not None and not audit.signed(keyed, self.keys.entries):
                suspicious.append(patient)  # its newest keyed entry is forged: read the whole chain
                continue
            checkpoint = self._checkpoint(patient)
            self._heads[patient] = audit.resume(last, keyed, checkpoint, adopt=adopt)
            if adopt and keyed is None and checkpoint is None:
                self.adopted[patient] = last.head
        for patient in suspicious:
            self._heads[patient] = await self._resolve(patient)
        self._all_heads_loaded = True
        if suspicious:
            log.warning("audit chains whose newest keyed entry does not verify", chains=len(suspicious))
        return len(newest)

    async def append(self, patient: str, at: datetime, actor_kind: str, actor_id: str, action: str,
                     document: str | None, allowed: bool, reason: str, ref: str | None = None,
                     via: str = "", justification: str = "") -> AuditEntry:
        """Append one entry and wait until it is stored; with `ref` (a command id) a command is audited once."""
        if ref is not None:
            seen = await self.refs.find_one({"_id": f"{patient}|{ref}"})
            if seen:
                existing = _entry(await self.collection.find_one({"_id": seen["entry"]}))
                if existing is not None:
                    return existing
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)  # what MongoDB keeps, so the MAC verifies
        future: asyncio.Future[AuditEntry] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending((patient, at, actor_kind, actor_id, action, document, allowed, reason, via,
                                     justification), ref, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        return await future

    async def _write_all(self) -> None:
        while self._queue:
            batch: list[_Pending] = []
            later: deque[_Pending] = deque()
            patients: set[str] = set()
            while self._queue and len(batch) < BATCH:
                item = self._queue.popleft()
                (later if item.args[0] in patients else batch).append(item)
                patients.add(item.args[0])
            self._queue.extendleft(reversed(later))
            try:
                await self._write(batch)
            except Exception as exc:  # noqa: BLE001 - the callers get the error (a 503, a retried message)
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)

    async def _write(self, batch: list[_Pending]) -> None:
        missing = [p for p in {item.args[0] for item in batch} if p not in self._heads]
        if self._all_heads_loaded:  # a chain unknown at start that nobody extended since: it starts here
            self._heads.update({p: audit.resume(None, None, self._checkpoint(p)) for p in missing})
        else:
            await asyncio.gather(*(self._head(p, reload=True) for p in missing))
        key = self.keys.entries
        entries = [audit.append(self._heads[item.args[0]], item.args[0], key, *item.args[1:]) for item in batch]
        docs = [_document(e, item.ref) for e, item in zip(entries, batch, strict=True)]
        started = time.perf_counter()
        failed = await insert_many_once(self.collection, docs)
        if self.timing is not None:
            self.timing.commit.observe(time.perf_counter() - started)
            self.timing.entries.observe(len(docs))
            for item in batch:
                self.timing.queue.observe(started - item.queued)
        for i, (entry, item) in enumerate(zip(entries, batch, strict=True)):
            if i in failed:  # another replica (or someone else) appended to this chain first: reload, try again
                await self._head(entry.patient, reload=True)
                self._queue.appendleft(item)
            else:
                self._heads[entry.patient] = entry.head
                self.checkpoints.note(entry.patient, entry.head)
                if item.ref is not None:  # the command this entry audits, found again by _id
                    await self.refs.update_one({"_id": f"{entry.patient}|{item.ref}"},
                                               {"$set": {"entry": docs[i]["_id"]}}, upsert=True)
                item.future.set_result(entry)

    async def _head(self, patient: str, reload: bool = False) -> Head | None:
        if reload or patient not in self._heads:
            self._heads[patient] = await self._resolve(patient, self._heads.get(patient))
        return self._heads[patient]

    async def _resolve(self, patient: str, known: Head | None = None) -> Head | None:
        """Where the chain continues now: after its newest entry if access signed it (the usual case: another
        replica appended), else — someone else wrote above access's entries — after reading the whole chain."""
        newest = _entry(await self._find_head(patient, known.seq if known is not None else -1))
        if newest is not None and audit.signed(newest, self.keys.entries):
            return audit.resume(newest, newest, self._checkpoint(patient))
        chain = await self.chain(patient)
        last = chain[-1] if chain else None
        signed = next((e for e in reversed(chain) if audit.signed(e, self.keys.entries)), None)
        top = audit.resume(last, signed, self._checkpoint(patient))
        if known is not None and top is not None and known.seq > top.seq:
            return Head(known.seq, top.hash)  # never below a seq this replica used
        return top or known

    async def _find_head(self, patient: str, known_seq: int) -> dict[str, Any] | None:
        """The chain's last entry at or above `known_seq`, found by `_id` alone (FerretDB answers `_id` lookups from
        its primary key but scans the collection for other filters): gallop forward, then bisect."""
        async def at(seq: int) -> dict[str, Any] | None:
            return await self.collection.find_one({"_id": _doc_id(patient, seq)})

        low, step = known_seq, 1  # low: the highest seq known to be used (-1: none)
        while await at(low + step) is not None:
            low, step = low + step, step * 2
        high = low + step  # known not to exist
        while high - low > 1:
            mid = (low + high) // 2
            if await at(mid) is not None:
                low = mid
            else:
                high = mid
        return await at(low) if low >= 0 else None

    async def chain(self, patient: str) -> list[AuditEntry]:
        """The whole chain, oldest first: one `_id` prefix range (pushed down to FerretDB's `_id` index), so entries
        stored under another patient's key are not in it; a stored document that is not an entry is kept as one
        whose MAC cannot hold."""
        found = self.collection.find({"_id": {"$gte": f"{patient}:", "$lt": f"{patient};"}})
        raws = [raw async for raw in found]
        out = [_entry(raw) or _unreadable(patient, raw) for raw in raws]
        return sorted(out, key=lambda e: e.seq)

    async def page(self, patient: str, before_seq: int | None, limit: int) -> list[AuditEntry]:
        """Newest first: up to `limit` entries with a seq below `before_seq` (None: from the chain's head). Read by
        `_id` only — FerretDB answers those from its key, while any other filter scans every patient's trail — so a
        page costs `limit` lookups whatever the trail's size; keyset paging, so appends never shift a page."""
        if before_seq is None:
            known = self._heads.get(patient)
            newest = _entry(await self._find_head(patient, known.seq if known is not None else -1))
            top = max(newest.seq if newest is not None else -1, known.seq if known is not None else -1)
            if top < 0:
                return []
            before_seq = top + 1
        seqs = list(range(before_seq - 1, max(before_seq - 1 - limit, -1), -1))
        found: list[dict[str, Any] | None] = []
        for start in range(0, len(seqs), PAGE_LOOKUPS):
            found += await asyncio.gather(*(self.collection.find_one({"_id": _doc_id(patient, seq)})
                                            for seq in seqs[start:start + PAGE_LOOKUPS]))
        return [e for e in map(_entry, found) if e is not None]

    async def verify(self, patient: str, chain: Sequence[AuditEntry] | None = None) -> audit_check.Verdict:
        """The chain checked against access's key and its checkpoint (the checkpoint's signature checked first)."""
        checkpoint = self.checkpoints.checked(patient)
        return audit_check.verify(await self.chain(patient) if chain is None else chain, self.keys.entries,
                                  checkpoint.head if checkpoint is not None else None, patient)
