"""The portal's edge on the real stack: two gateways started as `python -m services.gateway` (the production
entry point, so uvicorn's own proxy-header handling is what is tested) sharing one FerretDB/MongoDB database.

Rate limits: forged X-Forwarded-For headers from an untrusted peer do not escape the per-client limit; the
count is shared by the replicas; behind a configured trusted proxy each real client has its own count; a session
is limited too, in each replica's memory (nothing of it stored). Body limits: a 96 MiB body (declared or chunked)
is a 413 at once and the gateway's memory does not grow; a worker refuses large bodies the same way.

Neither activation nor access runs here (their URLs point at a closed port): the limits are decided before any
route runs, so what is tested is the edge alone; a request the limit lets through gets the route's own answer
(401, 422, 503), never a 429.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from limits import RateLimitItemPerMinute
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from pymongo import AsyncMongoClient

from infra.procs import free_port
from services.gateway.store.counters import MongoCounters
from tests.support import Worker, make_matricule, rss_kib

LIMIT, SESSION_LIMIT = 10, 15
MiB = 1024 * 1024


def _ready(worker: Worker, within_s: float = 90.0) -> Worker:
    assert worker.proc is not None
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if worker.proc.poll() is not None:
            raise AssertionError(f"gateway exited with {worker.proc.returncode}:\n{worker.logs()[-3000:]}")
        if worker.http("/health/ready")[0] == 200:
            return worker
        time.sleep(0.2)
    raise AssertionError(f"gateway not ready within {within_s}s:\n{worker.logs()[-3000:]}")


@pytest.fixture(scope="module")
def edge(worker_env: dict[str, str], run_id: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    prefix, logs, closed = f"{run_id}edge", tmp_path_factory.mktemp("edge-logs"), free_port()
    base = {**worker_env, "DSP_MONGO_DB_PREFIX": prefix, "DSP_KAFKA_GROUP_PREFIX": f"{prefix}-",
            "DSP_GATEWAY_ACTIVATION_URL": f"http://127.0.0.1:{closed}", "DSP_GATEWAY_ACCESS_URL":
            f"http://127.0.0.1:{closed}", "DSP_GATEWAY_RECORDS_URL": f"http://127.0.0.1:{closed}",
            "DSP_GATEWAY_NOTIFY_URL": f"http://127.0.0.1:{closed}", "DSP_GATEWAY_RATE_LIMIT_PER_MINUTE": str(LIMIT),
            "DSP_GATEWAY_SESSION_RATE_LIMIT_PER_MINUTE": str(SESSION_LIMIT), "DSP_GATEWAY_REPLY_TIMEOUT_S": "1",
            "DSP_GATEWAY_SECURE_COOKIES": "false"}
    gateways = [Worker("gateway", {**base, "DSP_GATEWAY_HTTP_PORT": str(free_port()), **extra},
                       Path(logs) / f"gateway-{n}.log").launch()
                for n, extra in enumerate(({}, {"DSP_GATEWAY_TRUSTED_PROXIES": "127.0.0.6"}))]
    try:
        for gateway in gateways:
            _ready(gateway)
        yield {"a": gateways[0], "b": gateways[1], "db": f"{prefix}_gateway"}
    finally:
        for gateway in gateways:
            gateway.stop()


def url(gateway: Worker) -> str:
    return f"http://127.0.0.1:{gateway.port}"


def client(gateway: Worker, source: str = "127.0.0.1") -> httpx.AsyncClient:
    """An HTTP client whose TCP peer address (as the gateway sees it) is `source` (any 127/8 address)."""
    return httpx.AsyncClient(base_url=url(gateway), timeout=30,
                             transport=httpx.AsyncHTTPTransport(local_address=source))


async def fresh_window(need_s: float = 20.0) -> None:
    """Start where the counts of this test stay in one minute window (counters are per wall-clock minute)."""
    second = time.time() % 60
    if second > 60 - need_s:
        await asyncio.sleep(60 - second + 0.2)  # the next minute


def login_body(n: int) -> dict[str, Any]:
    return {"matricule": make_matricule(date(1931, 1 + n % 12, 1 + n % 28), 100 + n), "password": "Guess-1234!"}


async def test_forged_forwarded_for_from_an_untrusted_peer_does_not_escape_the_limit(edge: dict[str, Any]) -> None:
    await fresh_window()
    async with client(edge["a"]) as web:
        replies = [await web.post("/v1/login", json=login_body(n), headers={"X-Forwarded-For": f"203.0.113.{n}"})
                   for n in range(40)]  # a new forged address and a new account each time
        statuses = [r.status_code for r in replies]
        assert 429 not in statuses[:LIMIT], statuses
        assert statuses[LIMIT:] == [429] * (40 - LIMIT), statuses
        refused = replies[-1]
        assert refused.headers["content-type"] == "application/problem+json"
        retry = int(refused.headers["retry-after"])
        assert 1 <= retry <= 60
        assert refused.json() == {"type": "urn:dsp-mesh:problem:too-many-requests", "title": "Too many requests",
                                  "status": 429, "detail": "too many attempts from this address; wait a minute",
                                  "reason": "too many attempts from this address; wait a minute",
                                  "retry_after_s": retry}
        assert refused.headers["x-frame-options"] == "DENY"
    async with client(edge["a"], "127.0.0.5") as other:  # another client is not affected
        assert (await other.post("/v1/login", json=login_body(99))).status_code != 429


async def test_a_burst_of_parallel_attempts_gets_exactly_the_limit(edge: dict[str, Any]) -> None:
    await fresh_window()
    async with client(edge["a"], "127.0.0.11") as a, client(edge["b"], "127.0.0.11") as b:
        replies = await asyncio.gather(*(gw.post("/v1/pro/login", json={"assertion": f"x.{n}"}, headers={
            "X-Forwarded-For": f"203.0.113.{n}"}) for n, gw in enumerate((a, b) * 20)))  # 40 at once, 2 replicas
    statuses = [r.status_code for r in replies]
    assert len([s for s in statuses if s != 429]) == LIMIT, statuses


async def test_two_gateways_share_one_count(edge: dict[str, Any]) -> None:
    await fresh_window()
    async with client(edge["a"], "127.0.0.7") as a, client(edge["b"], "127.0.0.7") as b:
        first = [(await gw.post("/v1/activation/verify-otp", json={"code": "000000"})).status_code
                 for gw in (a, b) * (LIMIT // 2)]
        assert 429 not in first, first  # 5 on each replica: 10 in all
        assert (await a.post("/v1/activation/verify-otp", json={"code": "000000"})).status_code == 429
        assert (await b.post("/v1/activation/verify-otp", json={"code": "000000"})).status_code == 429


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_count(edge: dict[str, Any]) -> None:
    await fresh_window()
    async with client(edge["b"], "127.0.0.6") as proxy:  # gateway b trusts 127.0.0.6
        distinct = [(await proxy.post("/v1/login/verify", json={"code": "000000"},
                                      headers={"X-Forwarded-For": f"198.51.100.{n}"})).status_code
                    for n in range(LIMIT + 2)]
        assert 429 not in distinct, distinct  # 12 clients, one attempt each
        # one client forging the left part of the header: the proxy's appended address is what counts
        same = [(await proxy.post("/v1/login/verify", json={"code": "000000"},
                                  headers={"X-Forwarded-For": f"10.9.9.{n}, 198.51.100.200"})).status_code
                for n in range(LIMIT + 2)]
        assert 429 not in same[:LIMIT] and same[LIMIT:] == [429, 429], same
    async with client(edge["a"], "127.0.0.6") as untrusted:  # gateway a trusts nobody: the peer is the client
        peer = [(await untrusted.post("/v1/login/verify", json={"code": "000000"},
                                      headers={"X-Forwarded-For": f"198.51.100.{n}"})).status_code
                for n in range(LIMIT + 1)]
        assert peer[-1] == 429, peer  # counted with the 24 above, all from 127.0.0.6


async def test_a_session_is_limited_in_each_replica_and_nothing_of_it_is_stored(edge: dict[str, Any],
                                                                                infra: Any) -> None:
    """The per-session limit is counted in each replica's memory (limits.SessionWindows): enforced at the limit,
    per session; a second replica counts the same session on its own (the documented bound in a fleet: R replicas,
    up to R x the limit a minute); nothing of the session reaches the database."""
    await fresh_window()
    token, other = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    async with client(edge["a"], "127.0.0.10") as web:
        statuses = [(await web.get("/v1/me/documents", headers={"Cookie": f"dsp_session={token}"})).status_code
                    for _ in range(SESSION_LIMIT + 5)]
        assert 429 not in statuses[:SESSION_LIMIT] and statuses[SESSION_LIMIT:] == [429] * 5, statuses
        limited = await web.get("/v1/me/notifications", headers={"Cookie": f"dsp_session={token}"})  # any route
        assert (limited.status_code, limited.headers["content-type"]) == (429, "application/problem+json")
        assert limited.json()["reason"] == "too many requests in this session; wait a minute"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert (await web.get("/v1/me/documents", headers={"Cookie": f"dsp_session={other}"})).status_code != 429
    async with client(edge["b"], "127.0.0.10") as web:
        assert (await web.get("/v1/me/documents", headers={"Cookie": f"dsp_session={token}"})).status_code != 429
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_uri)
    try:
        ids = [d["_id"] async for d in mongo[edge["db"]]["rate_limits"].find({}, {"_id": 1})]
    finally:
        await mongo.close()
    assert not [i for i in ids if "session" in i or token in i or other in i], ids


async def test_a_dependency_that_does_not_answer_is_a_503_problem(edge: dict[str, Any]) -> None:
    """activation's URL is a closed port here: a session check cannot be made, and the answer says so."""
    async with client(edge["a"], "127.0.0.12") as web:
        reply = await web.get("/v1/me/documents", headers={"Cookie": f"dsp_session={secrets.token_urlsafe(32)}"})
    assert (reply.status_code, reply.headers["content-type"]) == (503, "application/problem+json")
    assert reply.json()["type"] == "urn:dsp-mesh:problem:unavailable" and reply.json()["title"] == "Unavailable"
    assert reply.json()["reason"] == "a service did not answer in time; try again"


async def send_huge(port: int, path: str, total: int, chunked: bool, source: str) -> tuple[int, str, int, float]:
    """POST `total` bytes (declared, or chunked) and read the answer while still sending:
    (status, body, bytes handed to the socket before the gateway answered or closed, seconds)."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{length}\r\n\r\n"
                 .encode())
    piece = b'{"matricule":' + b" " * (64 * 1024 - 14) + b"1"
    sent = 0

    async def pump() -> None:
        nonlocal sent
        try:
            while sent < total:
                writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
                await writer.drain()
                sent += len(piece)
        except (ConnectionError, OSError):
            pass  # the gateway closed the connection: it was not going to read the rest

    pumping = asyncio.create_task(pump())
    try:
        head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)).decode()
        status = int(head.split()[1])
        size = next(int(line.split(":")[1]) for line in head.split("\r\n") if line.lower().startswith("content-length"))
        body = (await reader.readexactly(size)).decode()
        answered_after = sent
    finally:
        pumping.cancel()
        writer.close()
    return status, body, answered_after, time.monotonic() - started


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_96_mib_body_is_refused_at_once_and_costs_no_memory(edge: dict[str, Any], chunked: bool) -> None:
    gateway = edge["a"]
    assert gateway.proc is not None
    before = rss_kib(gateway.proc.pid)
    status, body, sent, seconds = await send_huge(gateway.port, "/v1/login", 96 * MiB, chunked,
                                                  "127.0.0.8" if chunked else "127.0.0.9")
    assert status == 413 and json.loads(body)["reason"] == "request body larger than 65536 bytes"
    assert json.loads(body)["type"] == "urn:dsp-mesh:problem:body-too-large"
    assert seconds < 10 and sent < 32 * MiB  # answered long before the 96 MiB were through
    await asyncio.sleep(0.5)
    assert rss_kib(gateway.proc.pid) - before < 20 * 1024, (before, rss_kib(gateway.proc.pid))
    assert gateway.http("/health/live")[0] == 200


async def test_a_worker_refuses_large_bodies_before_reading_them(records: Worker) -> None:
    status, body, _, seconds = await send_huge(records.port, "/health/live", 2 * MiB, False, "127.0.0.1")
    assert (status, seconds < 10) == (413, True) and "larger than 65536" in body


async def test_the_counter_storage_on_the_real_server(infra: Any, unique: str) -> None:
    """MongoCounters against the real MongoDB-protocol server: `$inc` upserts by `_id`, expiry read as 0 and a
    reused key started again, expired counters swept, and two replicas racing for the last places."""
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_uri, tz_aware=True)
    try:
        collection = mongo[f"edge{unique}"]["rate_limits"]
        one, two = MongoCounters(collection), MongoCounters(collection)  # two replicas
        assert [await one.incr("k", 1) for _ in range(3)] == [1, 2, 3] and await two.get("k") == 3
        await asyncio.sleep(1.2)
        assert await two.get("k") == 0  # expired: counts as nothing, long before a sweep
        assert await one.incr("k", 60) == 1 and await two.get("k") == 1  # a reused key starts again
        sweeper = MongoCounters(collection, sweep_every_s=0)
        await collection.insert_one({"_id": "old", "count": 5, "expireAt": datetime.now(UTC) - timedelta(hours=1)})
        assert await SlidingWindowCounterRateLimiter(sweeper).hit(RateLimitItemPerMinute(5), "fresh")
        assert sweeper._sweeping is not None
        await sweeper._sweeping
        assert await collection.find_one({"_id": "old"}) is None
        stats = await SlidingWindowCounterRateLimiter(two).get_window_stats(RateLimitItemPerMinute(5), "fresh")
        assert stats.remaining == 4  # the other replica sees the hit
        limiter_a = SlidingWindowCounterRateLimiter(one)
        limiter_b = SlidingWindowCounterRateLimiter(two)
        item = RateLimitItemPerMinute(10, namespace="race")
        await fresh_window(10)
        allowed = await asyncio.gather(*(limiter.hit(item, "client") for limiter in (limiter_a, limiter_b) * 15))
        assert sum(allowed) == 10, allowed  # 30 hits at once on two replicas: exactly 10 places
        assert not await limiter_a.hit(item, "client") and not await limiter_b.hit(item, "client")
    finally:
        await mongo.drop_database(f"edge{unique}")
        await mongo.close()
