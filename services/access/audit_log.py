"""The stored audit trail: entries appended to each patient's hash chain, `_id` = patient:seq (unique), so
two replicas appending at once cannot fork a chain — the loser reloads the head and appends after it."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from . import audit
from .audit import AuditEntry

FIELDS = ("patient", "seq", "at", "actor_kind", "actor_id", "action", "document", "allowed", "reason", "prev_hash",
          "hash")


def _entry(raw: dict[str, Any]) -> AuditEntry:
    return AuditEntry(**{k: raw[k] for k in FIELDS})


class AuditLog:
    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection
        self._heads: dict[str, AuditEntry | None] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def _head(self, patient: str, reload: bool = False) -> AuditEntry | None:
        if reload or patient not in self._heads:
            raw = await self.collection.find_one({"patient": patient}, sort=[("seq", DESCENDING)])
            self._heads[patient] = _entry(raw) if raw else None
        return self._heads[patient]

    async def append(self, patient: str, at: datetime, actor_kind: str, actor_id: str, action: str,
                     document: str | None, allowed: bool, reason: str, ref: str | None = None) -> AuditEntry:
        """Append one entry; with `ref` (a command id) the same command is never audited twice."""
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)  # what MongoDB keeps, so the hash verifies
        async with self._locks[patient]:
            if ref is not None:
                existing = await self.collection.find_one({"patient": patient, "ref": ref})
                if existing:
                    return _entry(existing)
            reload = False
            while True:
                last = await self._head(patient, reload)
                entry = audit.append(last, patient, at, actor_kind, actor_id, action, document, allowed, reason)
                try:
                    await self.collection.insert_one({"_id": f"{patient}:{entry.seq:012d}", "ref": ref,
                                                      **{k: getattr(entry, k) for k in FIELDS}})
                except DuplicateKeyError:  # another replica appended first
                    reload = True
                    continue
                self._heads[patient] = entry
                return entry

    async def entries(self, patient: str, limit: int | None = None, before_seq: int | None = None) -> list[AuditEntry]:
        query: dict[str, Any] = {"patient": patient}
        if before_seq is not None:
            query["seq"] = {"$lt": before_seq}
        if limit is None:
            cursor = self.collection.find(query, sort=[("seq", ASCENDING)])
            return [_entry(raw) async for raw in cursor]
        cursor = self.collection.find(query, sort=[("seq", DESCENDING)], limit=limit)
        return [_entry(raw) async for raw in cursor]

    async def verify(self, patient: str) -> tuple[int, int | None]:
        """(number of entries, index of the first broken link or None)."""
        chain = await self.entries(patient)
        return len(chain), audit.verify(chain)
