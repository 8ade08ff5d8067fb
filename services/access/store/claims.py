"""Unique inserts, group-committed: each caller learns whether its document was the first with its `_id`, while one
writer task stores whatever is queued in a single unordered `insert_many`.

FerretDB (SQLite) commits each `insert_one` on its own, about 2 ms apiece on the bench machine, and every
database's writes queue behind one another: a first-access marker per decision (one per new patient-professional
pair) held the audit's inserts back. In one `insert_many` a document costs about 0.1 ms.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from services.kit.projection import insert_many_once

BATCH = 1000


class UniqueInserts:
    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection
        self._queue: deque[tuple[dict[str, Any], asyncio.Future[bool]]] = deque()
        self._writer: asyncio.Task[None] | None = None

    async def insert(self, doc: dict[str, Any]) -> bool:
        """True if this call stored `doc`, False if a document with its `_id` was there first."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((doc, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        return await future

    async def _write_all(self) -> None:
        while self._queue:
            batch: list[tuple[dict[str, Any], asyncio.Future[bool]]] = []
            later: list[tuple[dict[str, Any], asyncio.Future[bool]]] = []
            ids: set[Any] = set()
            while self._queue and len(batch) < BATCH:
                item = self._queue.popleft()
                (later if item[0]["_id"] in ids else batch).append(item)  # a second one: next batch, a duplicate
                ids.add(item[0]["_id"])
            self._queue.extendleft(reversed(later))
            try:
                duplicates = await self._write([doc for doc, _ in batch])
            except Exception as exc:  # noqa: BLE001 - every caller of the batch gets the error
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for i, (_, future) in enumerate(batch):
                if not future.done():
                    future.set_result(i not in duplicates)

    async def _write(self, docs: list[dict[str, Any]]) -> set[int]:
        """The indexes of `docs` another writer had stored first."""
        return await insert_many_once(self.collection, docs)
