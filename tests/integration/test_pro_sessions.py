"""Professionals at the portal on the real stack (Kafka, MongoDB, access and the gateway in-process): an identity
provider's assertion lives at most 5 minutes and is used once, only a listed and active professional gets a
session, the session is server-side (revoked by logout, 30 minutes idle, 8 hours at most) and time is the
gateway's injected clock — nothing here sleeps to let a session expire."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from infra.procs import free_port
from services.access.app import AccessSettings
from services.access.app import create_app as access_app
from services.gateway.app import GatewaySettings
from services.gateway.app import create_app as gateway_app
from services.gateway.pro_assertion import sign
from tests.inprocess import FakeClock, InProcessWorker, settings_from
from tests.support import encode, eventually

Y2100 = 4_102_444_800


@pytest.fixture(scope="module")
def desk(infra: Any, run_id: str) -> Iterator[dict[str, Any]]:
    """access (it keeps the directory the gateway reads) and a gateway whose clock the test holds."""
    prefix, idp_key, clock = f"{run_id}pro", secrets.token_hex(24), FakeClock()
    ports = {"acc": free_port(), "gw": free_port()}
    base = {"DSP_KAFKA_BOOTSTRAP": infra.bootstrap, "DSP_MONGO_URI": infra.mongo_uri, "DSP_MONGO_DB_PREFIX": prefix,
            "DSP_KAFKA_GROUP_PREFIX": f"{prefix}-", "DSP_LOG_PSEUDONYM_KEY": secrets.token_hex(24)}
    access = InProcessWorker(access_app(settings_from(AccessSettings, {
        **base, "DSP_ACCESS_HTTP_PORT": str(ports["acc"])})), ports["acc"])
    gateway = InProcessWorker(gateway_app(settings_from(GatewaySettings, {  # type: ignore[arg-type]
        **base, "DSP_GATEWAY_HTTP_PORT": str(ports["gw"]), "DSP_GATEWAY_ACCESS_URL": f"http://127.0.0.1:{ports['acc']}",
        "DSP_GATEWAY_ACTIVATION_URL": f"http://127.0.0.1:{free_port()}", "DSP_GATEWAY_PRO_IDP_KEY": idp_key,
        "DSP_GATEWAY_RECORDS_URL": f"http://127.0.0.1:{free_port()}",  # nothing answers: not needed here
        "DSP_GATEWAY_NOTIFY_URL": f"http://127.0.0.1:{free_port()}",
        "DSP_GATEWAY_RATE_LIMIT_PER_MINUTE": "1000", "DSP_GATEWAY_SESSION_RATE_LIMIT_PER_MINUTE": "1000",
        "DSP_GATEWAY_SECURE_COOKIES": "false"}),  # plain http on loopback: the client must send the cookie back
        clock=clock), ports["gw"])
    for worker in (access, gateway):
        worker.start()
    yield {"url": f"http://127.0.0.1:{ports['gw']}", "idp": idp_key.encode(), "clock": clock, "gateway": gateway,
           "db": f"{prefix}_gateway"}
    for worker in (gateway, access):
        worker.stop()


@pytest.fixture
async def listed(desk: dict[str, Any], producer: AIOKafkaProducer, unique: str) -> AsyncIterator[str]:
    """A professional the directory lists, once the gateway can see it."""
    dr = f"DR-{unique}"
    await _list(producer, dr, unique, active=True)
    async with httpx.AsyncClient(base_url=desk["url"], timeout=30) as web:
        await eventually(lambda: _logs_in(web, desk, dr))
    yield dr


async def _list(producer: AIOKafkaProducer, dr: str, unique: str, active: bool) -> None:
    await producer.send_and_wait("directory.professionals.v1", encode({
        "message_id": f"dir-{unique}-{active}", "professional_id": dr, "given_name": "Anne", "family_name": "Hoffmann",
        "profession": "Médecin", "specialty": "Cardiologie", "active": active}), key=dr.encode())


def _assertion(desk: dict[str, Any], dr: str, lifetime_s: int = 120, **kw: Any) -> str:
    now = int(desk["clock"]().timestamp())  # the identity provider's clock agrees with the gateway's
    return sign(desk["idp"], dr, now + lifetime_s, issued=kw.pop("issued", now), **kw)


async def _login(web: httpx.AsyncClient, assertion: str) -> httpx.Response:
    return await web.post("/v1/pro/login", json={"assertion": assertion})


async def _logs_in(web: httpx.AsyncClient, desk: dict[str, Any], dr: str) -> bool:
    """Listed for the gateway's login (access's /v1/professionals/get) and for access's decisions."""
    return ((await _login(web, _assertion(desk, dr))).status_code == 200
            and (await web.get("/v1/pro/patients")).status_code == 200)


async def _reason(response: httpx.Response) -> tuple[int, str]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return response.status_code, response.json()["reason"]


async def test_an_assertion_is_used_once_and_lives_at_most_five_minutes(desk: dict[str, Any], listed: str) -> None:
    async with httpx.AsyncClient(base_url=desk["url"], timeout=30) as web:
        once = _assertion(desk, listed)
        assert (await _login(web, once)).status_code == 200
        assert await _reason(await _login(web, once)) == (401, "assertion already used")  # a replay
        assert await _reason(await _login(web, once)) == (401, "assertion already used")
        far = sign(desk["idp"], listed, Y2100, issued=int(desk["clock"]().timestamp()))  # exp in 2100
        assert await _reason(await _login(web, far)) == (
            401, "an assertion must live at most 300 seconds (exp - iat)")
        assert await _reason(await _login(web, sign(desk["idp"], listed, Y2100))) == (
            401, "an assertion must live at most 300 seconds (exp - iat)")  # sign's default: issued now
        late = _assertion(desk, listed)
        desk["clock"].advance(seconds=121)
        assert await _reason(await _login(web, late)) == (401, "the assertion has expired")
        early = _assertion(desk, listed, issued=int(desk["clock"]().timestamp()) + 120)
        assert await _reason(await _login(web, early)) == (401, "the assertion is issued in the future")
        forged = sign(b"not-the-idp-key", listed, int(desk["clock"]().timestamp()) + 60)
        assert await _reason(await _login(web, forged)) == (401, "the assertion is not valid")


async def test_only_a_listed_and_active_professional_gets_a_session(desk: dict[str, Any], listed: str,
                                                                    producer: AIOKafkaProducer, unique: str) -> None:
    async with httpx.AsyncClient(base_url=desk["url"], timeout=30) as web:
        stranger = await _login(web, _assertion(desk, f"NOBODY-{unique}"))
        assert await _reason(stranger) == (403, "not listed in the professional directory")
        assert "dsp_pro" not in stranger.cookies and (await web.get("/v1/pro/patients")).status_code == 401
        await _list(producer, listed, unique, active=False)  # the professional leaves the directory

        async def refused() -> tuple[int, str] | None:
            answer = await _login(web, _assertion(desk, listed))
            return await _reason(answer) if answer.status_code == 403 else None  # 200 until access has read it

        assert await eventually(refused) == (403, "no longer active in the professional directory")


async def test_logout_ends_the_session_on_the_server(desk: dict[str, Any], listed: str, infra: Any) -> None:
    async with httpx.AsyncClient(base_url=desk["url"], timeout=30) as web:
        assert (await web.get("/v1/pro/patients")).status_code == 401
        logged = await _login(web, _assertion(desk, listed))
        assert logged.status_code == 200 and logged.json()["professional_id"] == listed
        ends = desk["clock"]() + timedelta(hours=8)  # RFC 3339 UTC, to the millisecond
        assert logged.json()["session_ends_at"] == ends.astimezone(UTC).isoformat(timespec="milliseconds").replace(
            "+00:00", "Z")
        token = logged.cookies["dsp_pro"]
        cookie = logged.headers["set-cookie"].lower()
        assert {"httponly", "samesite=strict", "path=/"} <= {p.strip() for p in cookie.split(";")}
        assert "secure" not in cookie  # DSP_GATEWAY_SECURE_COOKIES=false (loopback)
        mine = await web.get("/v1/pro/patients")
        assert mine.status_code == 200, mine.text
        assert mine.json()["items"] == []

        stored: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_uri, tz_aware=True)
        try:  # only the token's SHA-256 is stored
            session = await stored[desk["db"]]["pro_sessions"].find_one({"_id": hashlib.sha256(token.encode())
                                                                         .hexdigest()})
            assert session is not None and session["professional_id"] == listed and not session["revoked"]
            assert token not in str(session)
        finally:
            await stored.close()

        out = await web.post("/v1/pro/logout")
        assert out.status_code == 200 and "dsp_pro" not in web.cookies and out.json() == {"reason": "logged out"}
        assert 'dsp_pro=""' in out.headers["set-cookie"] and "path=/;" in out.headers["set-cookie"].lower() + ";"
    async with httpx.AsyncClient(base_url=desk["url"], timeout=30, headers={"cookie": f"dsp_pro={token}"}) as kept:
        assert await _reason(await kept.get("/v1/pro/patients")) == (
            401, "this professional session has ended; log in again")  # the same cookie, after logout
        assert (await kept.post("/v1/pro/logout")).status_code == 401
        assert (await kept.post("/v1/pro/documents", json={"patient": "1893120105732"})).status_code == 401
    async with httpx.AsyncClient(base_url=desk["url"], timeout=30,
                                 headers={"cookie": f"dsp_pro={secrets.token_urlsafe(32)}"}) as guessed:
        assert await _reason(await guessed.get("/v1/pro/patients")) == (401, "not logged in as a professional")


async def test_a_new_login_ends_the_browser_s_previous_session(desk: dict[str, Any], listed: str) -> None:
    async with httpx.AsyncClient(base_url=desk["url"], timeout=30) as web:
        first = (await _login(web, _assertion(desk, listed))).cookies["dsp_pro"]
        second = (await _login(web, _assertion(desk, listed))).cookies["dsp_pro"]
        assert first != second and (await web.get("/v1/pro/patients")).status_code == 200
    async with httpx.AsyncClient(base_url=desk["url"], timeout=30, headers={"cookie": f"dsp_pro={first}"}) as old:
        assert (await old.get("/v1/pro/patients")).status_code == 401


async def test_a_session_expires_after_30_idle_minutes_and_8_hours_at_most(desk: dict[str, Any], listed: str,
                                                                           infra: Any) -> None:
    clock, stored = desk["clock"], AsyncMongoClient[dict[str, Any]](infra.mongo_uri, tz_aware=True)
    db = stored[desk["db"]]
    try:
        async with httpx.AsyncClient(base_url=desk["url"], timeout=30) as web:
            jti = f"idle-{secrets.token_hex(8)}"
            idle = (await _login(web, _assertion(desk, listed, jti=jti))).cookies["dsp_pro"]
            assert await db["pro_assertions"].find_one({"_id": jti}) is not None  # remembered while it could work
            clock.advance(minutes=29)
            assert (await web.get("/v1/pro/patients")).status_code == 200  # used: 30 more minutes from now
            clock.advance(minutes=29)
            assert (await web.get("/v1/pro/patients")).status_code == 200
            clock.advance(minutes=30, seconds=1)
            assert await _reason(await web.get("/v1/pro/patients")) == (
                401, "this professional session has expired; log in again")

            busy = (await _login(web, _assertion(desk, listed))).cookies["dsp_pro"]
            for _ in range(16):  # busy all day: 16 x 29 minutes = 7 h 44
                clock.advance(minutes=29)
                assert (await web.get("/v1/pro/patients")).status_code == 200
            clock.advance(minutes=16)  # 8 hours after login, however busy
            assert await _reason(await web.get("/v1/pro/patients")) == (
                401, "this professional session has expired; log in again")

            assert (await _login(web, _assertion(desk, listed))).status_code == 200  # then a purge, in the background

            async def purged() -> bool:
                sessions = [await db["pro_sessions"].find_one({"_id": hashlib.sha256(t.encode()).hexdigest()})
                            for t in (idle, busy)]
                return sessions == [None, None] and await db["pro_assertions"].find_one({"_id": jti}) is None

            assert await eventually(purged)
    finally:
        await stored.close()


async def test_the_cookie_is_secure_when_the_gateway_says_so(desk: dict[str, Any], listed: str) -> None:
    context = desk["gateway"].app.state.ctx
    context.secure = True
    try:
        async with httpx.AsyncClient(base_url=desk["url"], timeout=30) as web:
            logged = await _login(web, _assertion(desk, listed))
            assert "secure" in {p.strip() for p in logged.headers["set-cookie"].lower().split(";")}
    finally:
        context.secure = False
