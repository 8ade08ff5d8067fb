"""Rate limits at the portal's edge, shared by every gateway replica through MongoDB.

- Per client address and endpoint on the endpoints that take something guessable (`SENSITIVE`: passwords,
  one-time codes, activation codes, presence passwords), `DSP_GATEWAY_RATE_LIMIT_PER_MINUTE`.
- Per session on everything a logged-in browser does under `/v1/me/`, `/v1/pro/` and the professional search
  (reads and searches above all), keyed by a hash of the `dsp_session` / `dsp_pro` cookie — the token itself is
  never stored — `DSP_GATEWAY_SESSION_RATE_LIMIT_PER_MINUTE`.

The client address is the TCP peer, unless the peer is one of `DSP_GATEWAY_TRUSTED_PROXIES`: then it is the
nearest address in `X-Forwarded-For` that is not a trusted proxy (a client cannot forge its way past the proxy,
which appends the address it saw). The server must not rewrite the peer itself: `python -m services.gateway`
runs uvicorn with proxy headers off. IPv6 clients count per /64 (one host usually holds a whole /64).

Counting uses the `limits` library's sliding-window-counter strategy (the weighted sum of this minute's and the
previous minute's counters, so a burst straddling a minute boundary is not counted twice as fresh) on
`MongoCounters`, a storage keyed only by `_id` (see its docstring for what FerretDB allows).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import math
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from limits import RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.storage.base import SlidingWindowCounterSupport
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage.base import TimestampedSlidingWindow
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

log = structlog.get_logger("dsp.gateway.limits")

SENSITIVE = frozenset({"/v1/login", "/v1/login/verify", "/v1/activation/start", "/v1/activation/verify-otp",
                       "/v1/pro/login", "/v1/pro/presence-password"})
SESSION_PREFIXES = (("/v1/pro/", "dsp_pro"), ("/v1/me/", "dsp_session"), ("/v1/professionals", "dsp_session"))
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_proxies(text: str) -> tuple[Network, ...]:
    """`10.0.0.5, 10.1.0.0/16, ::1` → networks; raises ValueError on anything else (settings fail fast)."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def client_address(peer: str | None, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """The client's address, as a rate-limit key: the peer, or (peer a trusted proxy) the nearest untrusted
    address in X-Forwarded-For, read from the right; IPv6 as its /64."""
    def is_trusted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(ip.version == net.version and ip in net for net in trusted)

    address = _ip(peer or "")
    if address is None:
        return peer or "unknown"
    if is_trusted(address) and forwarded_for:
        for hop in reversed(forwarded_for.split(",")):
            ip = _ip(hop)
            if ip is None:
                break  # garbage where a proxy should have written an address: keep the last one we trust
            address = ip
            if not is_trusted(ip):
                break
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else address)


def session_key(token: str) -> str:
    """What is stored for a session: a hash of its cookie, never the cookie."""
    return hashlib.sha256(b"dsp-gateway-rate-limit\x1f" + token.encode()).hexdigest()[:32]


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

    def __init__(self, collection: AsyncCollection[dict[str, Any]], sweep_every_s: float = 300.0) -> None:
        super().__init__()
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


class EdgeLimiter:
    """The gateway's two limits, checked by its HTTP middleware before a route runs."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]], per_client_per_minute: int,
                 per_session_per_minute: int, trusted_proxies: tuple[Network, ...] = ()) -> None:
        self.strategy = SlidingWindowCounterRateLimiter(MongoCounters(collection))
        self.per_client = RateLimitItemPerMinute(per_client_per_minute, namespace="client")
        self.per_session = RateLimitItemPerMinute(per_session_per_minute, namespace="session")
        self.trusted = trusted_proxies

    def client(self, request: Request) -> str:
        forwarded = ",".join(request.headers.getlist("x-forwarded-for")) if self.trusted else None
        return client_address(request.client.host if request.client else None, forwarded, self.trusted)

    async def refusal(self, request: Request) -> Response | None:
        """None to go on, or the answer: 429 with Retry-After and the reason; 503 if the counters' store is
        unreachable (the limit is not silently dropped)."""
        path = request.url.path
        request.state.client_address = address = self.client(request)
        checks: list[tuple[RateLimitItemPerMinute, tuple[str, ...], str]] = []
        if path in SENSITIVE:
            checks.append((self.per_client, (path, address), "too many attempts from this address; wait a minute"))
        cookie = next((name for prefix, name in SESSION_PREFIXES if path.startswith(prefix)), None)
        token = request.cookies.get(cookie) if cookie else None
        if token:
            checks.append((self.per_session, (cookie or "", session_key(token)),
                           "too many requests in this session; wait a minute"))
        try:
            for item, identifiers, reason in checks:
                if not await self.strategy.hit(item, *identifiers):
                    stats = await self.strategy.get_window_stats(item, *identifiers)
                    retry = max(1, min(60, math.ceil(stats.reset_time - time.time())))
                    return JSONResponse({"detail": {"reason": reason}}, 429, headers={"Retry-After": str(retry)})
        except PyMongoError as exc:
            log.warning("rate-limit store unreachable; answered 503", error=type(exc).__name__)
            return JSONResponse({"detail": "a service did not answer in time; try again"}, 503)
        return None
