"""The stored audit trail: entries appended to each patient's hash chain, `_id` = patient:seq (unique), so
two replicas appending at once cannot fork a chain — the loser reloads the head and appends after it.

Appends are group-committed: callers wait until their entry is stored (no audit, no access), while a single
writer task stores whatever is queued in one unordered `insert_many` — at most one entry per patient per
batch, so a duplicate (another replica got there first) never strands a successor with a wrong prev_hash.
"""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import datetime
from typing import Any

import structlog
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from services.kit.projection import insert_many_once

from .. import audit
from ..audit import AuditEntry

log = structlog.get_logger("dsp.access.audit")
FIELDS = ("patient", "seq", "at", "actor_kind", "actor_id", "action", "document", "allowed", "reason", "prev_hash",
          "hash", "via", "justification")
BATCH = 500
PAGE_LOOKUPS = 50  # concurrent _id lookups while reading a page of the trail


def _entry(raw: dict[str, Any]) -> AuditEntry:
    return AuditEntry(**{k: raw[k] for k in FIELDS if k in raw})


def _doc_id(patient: str, seq: int) -> str:
    return f"{patient}:{seq:012d}"


class _Pending:
    __slots__ = ("args", "future", "ref")

    def __init__(self, args: tuple[Any, ...], ref: str | None, future: asyncio.Future[AuditEntry]) -> None:
        self.args, self.ref, self.future = args, ref, future


class AuditLog:
    def __init__(self, collection: AsyncCollection[dict[str, Any]],
                 refs: AsyncCollection[dict[str, Any]] | None = None) -> None:
        self.collection = collection
        self.refs = refs if refs is not None else collection.database[f"{collection.name}_refs"]
        self._heads: dict[str, AuditEntry | None] = {}
        self._queue: deque[_Pending] = deque()
        self._writer: asyncio.Task[None] | None = None
        self._all_heads_loaded = False

    async def load_heads(self) -> int:
        """At start: every chain's head in one pass (cheaper than a lookup per patient on FerretDB, which scans
        the collection for each query); a chain another replica extends later is caught by its unique _id."""
        heads: dict[str, dict[str, Any]] = {}
        async for raw in self.collection.find({}, {k: 1 for k in FIELDS}):
            if raw["patient"] not in heads or raw["seq"] > heads[raw["patient"]]["seq"]:
                heads[raw["patient"]] = raw
        self._heads.update({p: _entry(raw) for p, raw in heads.items()})
        self._all_heads_loaded = True
        return len(heads)

    async def append(self, patient: str, at: datetime, actor_kind: str, actor_id: str, action: str,
                     document: str | None, allowed: bool, reason: str, ref: str | None = None,
                     via: str = "", justification: str = "") -> AuditEntry:
        """Append one entry and wait until it is stored; with `ref` (a command id) a command is audited once."""
        if ref is not None:
            seen = await self.refs.find_one({"_id": f"{patient}|{ref}"})
            if seen:
                existing = await self.collection.find_one({"_id": seen["entry"]})
                if existing:
                    return _entry(existing)
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)  # what MongoDB keeps, so the hash verifies
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
            self._heads.update(dict.fromkeys(missing))
        else:
            await asyncio.gather(*(self._head(p, reload=True) for p in missing))
        entries = [audit.append(self._heads[item.args[0]], *item.args) for item in batch]
        docs = [{"_id": _doc_id(e.patient, e.seq), "ref": item.ref, **{k: getattr(e, k) for k in FIELDS}}
                for e, item in zip(entries, batch, strict=True)]
        failed = await insert_many_once(self.collection, docs)
        for i, (entry, item) in enumerate(zip(entries, batch, strict=True)):
            if i in failed:  # another replica appended to this chain first: reload its head, try again
                await self._head(entry.patient, reload=True)
                self._queue.appendleft(item)
            else:
                self._heads[entry.patient] = entry
                if item.ref is not None:  # the command this entry audits, found again by _id
                    await self.refs.update_one({"_id": f"{entry.patient}|{item.ref}"},
                                               {"$set": {"entry": docs[i]["_id"]}}, upsert=True)
                item.future.set_result(entry)

    async def _head(self, patient: str, reload: bool = False) -> AuditEntry | None:
        if reload or patient not in self._heads:
            self._heads[patient] = await self._find_head(patient, self._heads.get(patient))
        return self._heads[patient]

    async def _find_head(self, patient: str, known: AuditEntry | None) -> AuditEntry | None:
        """The chain's last entry, found by `_id` alone (FerretDB answers `_id` lookups from its primary key but
        scans the collection for other filters): gallop forward from what is known, then bisect."""
        async def at(seq: int) -> dict[str, Any] | None:
            return await self.collection.find_one({"_id": _doc_id(patient, seq)})

        low = known.seq if known is not None else -1  # the highest seq known to exist (-1: none)
        step = 1
        while await at(low + step) is not None:
            low, step = low + step, step * 2
        high = low + step  # known not to exist
        while high - low > 1:
            mid = (low + high) // 2
            if await at(mid) is not None:
                low = mid
            else:
                high = mid
        raw = await at(low) if low >= 0 else None
        return _entry(raw) if raw else None

    async def entries(self, patient: str, limit: int | None = None, before_seq: int | None = None) -> list[AuditEntry]:
        query: dict[str, Any] = {"patient": patient}
        if before_seq is not None:
            query["seq"] = {"$lt": before_seq}
        if limit is None:
            cursor = self.collection.find(query, sort=[("seq", ASCENDING)])
            return [_entry(raw) async for raw in cursor]
        cursor = self.collection.find(query, sort=[("seq", DESCENDING)], limit=limit)
        return [_entry(raw) async for raw in cursor]

    async def page(self, patient: str, before_seq: int | None, limit: int) -> list[AuditEntry]:
        """Newest first: up to `limit` entries with a seq below `before_seq` (None: from the chain's head). Read by
        `_id` only — FerretDB answers those from its key, while any other filter scans every patient's trail — so a
        page costs `limit` lookups whatever the trail's size; keyset paging, so appends never shift a page."""
        if before_seq is None:
            head = await self._find_head(patient, self._heads.get(patient))
            if head is None:
                return []
            before_seq = head.seq + 1
        seqs = list(range(before_seq - 1, max(before_seq - 1 - limit, -1), -1))
        found: list[dict[str, Any] | None] = []
        for start in range(0, len(seqs), PAGE_LOOKUPS):
            found += await asyncio.gather(*(self.collection.find_one({"_id": _doc_id(patient, seq)})
                                            for seq in seqs[start:start + PAGE_LOOKUPS]))
        return [_entry(raw) for raw in found if raw is not None]

    async def verify(self, patient: str) -> tuple[int, int | None, AuditEntry | None]:
        """(number of entries, index of the first broken link or None, the chain's last entry)."""
        chain = await self.entries(patient)
        return len(chain), audit.verify(chain), chain[-1] if chain else None
