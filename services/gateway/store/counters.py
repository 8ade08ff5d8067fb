"""The rate limits' counters (`services.gateway.limits`): a `limits` async storage on the gateway's collection
`<prefix>_gateway.rate_limits`, read and written by `_id` only. Its errors reach the limiter as
`limits.errors.StorageError` (`wrap_exceptions`), so nothing outside this package handles pymongo's."""

from __future__ import annotations

import asyncio
import math
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from limits.aio.storage import Storage
from limits.aio.storage.base import SlidingWindowCounterSupport
from limits.storage.base import TimestampedSlidingWindow
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

log = structlog.get_logger("dsp.gateway.limits")
Collection = AsyncCollection[dict[str, Any]]


class MongoCounters(Storage, SlidingWindowCounterSupport, TimestampedSlidingWindow):
    """A `limits` async storage on one MongoDB / FerretDB collection, touched only by `_id` (the one filter
    FerretDB v1 pushes down to its index).

    A hit takes a *place* in its minute: it inserts `{_id: "<limit key>/<window number>#<n>"}` for the lowest free
    n (an `_id` insert is the one claim FerretDB makes atomic: of two replicas racing for place n, exactly one
    gets it and the other tries n + 1), until the places the limit leaves this minute are gone. A document
    `{_id: "<limit key>/<window number>", count}` remembers how many places are taken (`$max`), so the next hit
    starts there and a refused one costs two reads. That count can lag behind under races — FerretDB's
    updates are not atomic: measured here, 30 concurrent `$inc` of one counter left it at 6 — so it is only
    used as a starting point and as the previous minute's weight: the places of the current minute are exact,
    the weight of the previous one approximate (it can only err towards letting a few more hits through, as
    the `limits` library's own sliding-window counter does at window edges). Expiry is done here, not by a TTL
    index (FerretDB has none): expired documents read as 0 and are deleted now and then (`sweep_every_s`).
    `incr` (the fixed-window strategy's operation, unused by the gateway) is a plain `$inc`: approximate."""

    def __init__(self, collection: Collection, sweep_every_s: float = 300.0) -> None:
        super().__init__(wrap_exceptions=True)  # the limiter sees limits.errors.StorageError, not pymongo's
        self.collection, self.sweep_every_s = collection, sweep_every_s
        self._swept = time.monotonic()
        self._sweeping: asyncio.Task[None] | None = None

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return PyMongoError

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = datetime.now(UTC)
        self._maybe_sweep(now)
        for attempt in range(2):
            try:
                doc = await self.collection.find_one_and_update(
                    {"_id": key}, {"$inc": {"count": amount}, "$setOnInsert": {"expireAt": now + timedelta(
                        seconds=expiry)}}, upsert=True, return_document=ReturnDocument.AFTER)
                break
            except DuplicateKeyError:  # two first hits raced to create the counter: the second increments
                if attempt:
                    raise
        if doc is None:
            return amount
        if _expiry(doc) <= now:  # an old counter under a reused key: start it again
            await self.collection.update_one({"_id": key}, {"$set": {  # (upsert: a sweep may just have removed it)
                "count": amount, "expireAt": now + timedelta(seconds=expiry)}}, upsert=True)
            return amount
        return int(doc["count"])

    async def get(self, key: str) -> int:
        doc = await self.collection.find_one({"_id": key})
        return int(doc["count"]) if doc and _expiry(doc) > datetime.now(UTC) else 0

    async def get_expiry(self, key: str) -> float:
        doc = await self.collection.find_one({"_id": key})
        return _expiry(doc).timestamp() if doc else time.time()

    async def check(self) -> bool:
        try:
            await self.collection.database.command("ping")
        except PyMongoError:
            return False
        return True

    async def reset(self) -> int | None:
        return (await self.collection.delete_many({})).deleted_count

    async def clear(self, key: str) -> None:
        await self.collection.delete_one({"_id": key})

    async def acquire_sliding_window_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        previous_key, current_key = self.sliding_window_keys(key, expiry, now)
        previous, previous_ttl, taken, _ = await self._window(previous_key, current_key, expiry, now)
        places = limit - math.floor(previous * previous_ttl / expiry)  # what the previous minute leaves to this one
        expires = datetime.now(UTC) + timedelta(seconds=2 * expiry)
        self._maybe_sweep(datetime.now(UTC))
        place, got = taken, 0
        while got < amount and place < places:
            try:
                await self.collection.insert_one({"_id": f"{current_key}#{place}", "expireAt": expires})
                got += 1
            except DuplicateKeyError:
                pass  # another hit (here or on another replica) took it
            place += 1
        if place > taken:
            await self._taken(current_key, place, expires)
        return got == amount

    async def _taken(self, key: str, count: int, expires: datetime) -> None:
        """Places 0..count-1 of window `key` are taken (a hint: `$max`, may lag under races)."""
        update = {"$max": {"count": count}, "$setOnInsert": {"expireAt": expires}}
        try:
            await self.collection.update_one({"_id": key}, update, upsert=True)
        except DuplicateKeyError:  # two first hits raced to create it: the other one did
            await self.collection.update_one({"_id": key}, {"$max": {"count": count}})

    async def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        now = time.time()
        return await self._window(*self.sliding_window_keys(key, expiry, now), expiry, now)

    async def clear_sliding_window(self, key: str, expiry: int) -> None:
        for window_key in self.sliding_window_keys(key, expiry, time.time()):  # (a scan: an administrator's tool)
            await self.collection.delete_many({"_id": {"$regex": f"^{re.escape(window_key)}(#[0-9]+)?$"}})

    async def _window(self, previous_key: str, current_key: str, expiry: int,
                      now: float) -> tuple[int, float, int, float]:
        """(previous count, how long it still weighs, current count, its time left): limits' memory storage's
        arithmetic, on two `_id` reads."""
        previous, current = await asyncio.gather(self.get(previous_key), self.get(current_key))
        previous_ttl = 0.0 if previous == 0 else (1 - (((now - expiry) / expiry) % 1)) * expiry
        current_ttl = (1 - ((now / expiry) % 1)) * expiry + expiry
        return previous, previous_ttl, current, current_ttl

    def _maybe_sweep(self, now: datetime) -> None:
        if time.monotonic() - self._swept < self.sweep_every_s or (self._sweeping and not self._sweeping.done()):
            return
        self._swept = time.monotonic()

        async def sweep() -> None:
            try:
                await self.collection.delete_many({"expireAt": {"$lt": now}})
            except PyMongoError as exc:  # the next sweep tries again; counters read expired ones as 0 anyway
                log.warning("rate-limit sweep failed", error=type(exc).__name__)

        self._sweeping = asyncio.create_task(sweep())


def _expiry(doc: dict[str, Any]) -> datetime:
    at: datetime = doc["expireAt"]
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # a client without tz_aware reads naive UTC
