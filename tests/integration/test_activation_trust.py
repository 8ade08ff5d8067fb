"""Issue 24 ("Trust II") replayed through the real gateway on the real stack (Kafka, FerretDB, activation and the
gateway in-process; activation's time on a FakeClock): sessions end when they must, whatever their number; a
stranger solving ALTCHAs from 8 addresses never keeps the owner out; challenges are limited per address and swept.

What notify would deliver (the letter's code, one-time codes) is read off `notify.requests.v1` and unsealed with
notify's test key: activation's own requests, as notify gets them."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from altcha.v1 import solve_challenge

from infra.procs import free_port
from services.activation.app import ActivationSettings
from services.activation.app import create_app as activation_app
from services.gateway.app import GatewaySettings
from services.gateway.app import create_app as gateway_app
from services.kit.sealing import request_binding, unseal
from tests.inprocess import FakeClock, InProcessWorker, settings_from
from tests.integration.access_support import TopicReader
from tests.integration.test_activation import FakeLuxTrust, FixedCaptcha
from tests.integration.test_gateway_edge import fresh_window
from tests.support import TEST_NOTIFY_SEAL_KEY, encode, eventually, make_matricule, person

LIMIT = 40  # per client address a minute: each endpoint that takes a secret; the two challenge endpoints together
MANY = 25  # sessions: more than the 20 digests an account kept before
PASSWORD = "Mondorf-Spa-2027"


@pytest.fixture(scope="module")
def world(infra: Any, run_id: str) -> Iterator[dict[str, Any]]:
    prefix, clock, ports = f"{run_id}trust", FakeClock(), {"act": free_port(), "gw": free_port()}
    base = {"DSP_KAFKA_BOOTSTRAP": infra.bootstrap, "DSP_MONGO_URI": infra.mongo_uri, "DSP_MONGO_DB_PREFIX": prefix,
            "DSP_KAFKA_GROUP_PREFIX": f"{prefix}-", "DSP_LOG_PSEUDONYM_KEY": secrets.token_hex(24)}
    activation = InProcessWorker(activation_app(settings_from(ActivationSettings, {
        **base, "DSP_ACTIVATION_HTTP_PORT": str(ports["act"]), "DSP_ACTIVATION_CODE_KEY": secrets.token_hex(24)}),
        clock, FixedCaptcha(), FakeLuxTrust()), ports["act"]).start()
    gateway = InProcessWorker(gateway_app(settings_from(GatewaySettings, {  # type: ignore[arg-type]
        **base, "DSP_GATEWAY_HTTP_PORT": str(ports["gw"]),
        "DSP_GATEWAY_ACTIVATION_URL": f"http://127.0.0.1:{ports['act']}",
        "DSP_GATEWAY_ACCESS_URL": f"http://127.0.0.1:{free_port()}",  # nothing answers: not needed here
        "DSP_GATEWAY_RECORDS_URL": f"http://127.0.0.1:{free_port()}",
        "DSP_GATEWAY_NOTIFY_URL": f"http://127.0.0.1:{free_port()}",
        "DSP_GATEWAY_RATE_LIMIT_PER_MINUTE": str(LIMIT), "DSP_GATEWAY_SESSION_RATE_LIMIT_PER_MINUTE": "1000",
        "DSP_GATEWAY_SECURE_COOKIES": "false"})), ports["gw"]).start()  # no trusted proxy: the peer is the client
    yield {"url": f"http://127.0.0.1:{ports['gw']}", "clock": clock, "db": f"{prefix}_activation"}
    gateway.stop()
    activation.stop()


@pytest.fixture
async def requests_to_notify(infra: Any) -> AsyncIterator[TopicReader]:
    reader = await TopicReader(infra.bootstrap, "notify.requests.v1").start()
    yield reader
    await reader.stop()


def web(world: dict[str, Any], address: str) -> httpx.AsyncClient:
    """A browser at `address` (any 127/8 address: the gateway's TCP peer, so its client address)."""
    return httpx.AsyncClient(base_url=world["url"], timeout=30,
                             transport=httpx.AsyncHTTPTransport(local_address=address))


async def altcha(browser: httpx.AsyncClient) -> str:
    """An ALTCHA challenge from the gateway, solved as the browser's widget does (off the event loop)."""
    reply = await browser.post("/v1/activation/altcha")
    assert reply.status_code == 200, reply.text
    challenge = reply.json()
    solution = await asyncio.to_thread(solve_challenge, challenge["challenge"], challenge["salt"],
                                       challenge["algorithm"], challenge["maxnumber"])
    assert solution is not None
    payload = {**{k: challenge[k] for k in ("algorithm", "challenge", "salt", "signature")}, "number": solution.number}
    return base64.b64encode(json.dumps(payload).encode()).decode()


@dataclass
class Patient:
    """A person the registry announced, and what notify would deliver to her."""

    matricule: str
    notices: TopicReader
    world: dict[str, Any]
    seen: set[str] = field(default_factory=set)  # request ids already read

    async def secret(self, template: str) -> str:
        """The code of the next `template` request (letter or one-time code) sent to her, unsealed as notify does."""
        async def fresh() -> str | None:
            await self.notices.poll()
            for body in self.notices.matching(recipient=self.matricule, template_id=template):
                if body["request_id"] not in self.seen:
                    self.seen.add(body["request_id"])
                    binding = request_binding(body["request_id"], body["channel"], body["recipient"],
                                              body.get("destination"))
                    return unseal(TEST_NOTIFY_SEAL_KEY, body["sealed_parameters"], bound_to=binding)["code"]
            return None
        # a letter waits for activation to read the registry (a fresh consumer group may have history first)
        code: str = await eventually(fresh, within_s=120 if template == "activation-code" else 60)
        return code

    async def start(self, browser: httpx.AsyncClient) -> httpx.Response:
        code = await self.secret("activation-code")
        captcha = (await browser.post("/v1/activation/captcha")).json()
        return await browser.post("/v1/activation/start", json={
            "matricule": self.matricule, "activation_code": code, "terms_version": "2026-01",
            "captcha_id": captcha["captcha_id"], "captcha_answer": "KX7PA"})

    async def activate(self, address: str) -> None:
        async with web(self.world, address) as browser:
            started = await self.start(browser)
            assert started.status_code == 200, started.text
            for step, body in (("set-password", {"password": PASSWORD}), ("choose-channel", {"channel": "email"}),
                               ("verify-otp", None), ("skip-luxtrust", {}), ("confirm", {})):
                if step == "verify-otp":
                    body = {"code": await self.secret("one-time-code")}
                reply = await browser.post(f"/v1/activation/{step}", json=body)
                assert reply.status_code == 200, (step, reply.text)

    async def log_in(self, address: str, password: str = PASSWORD, **challenge: str) -> str:
        """A new browser at `address` logs in (password, then the one-time code): its session token."""
        async with web(self.world, address) as browser:
            login = await browser.post("/v1/login", json={"matricule": self.matricule, "password": password,
                                                          "channel": "email", **challenge})
            assert login.status_code == 200, login.text
            verified = await browser.post("/v1/login/verify", json={"code": await self.secret("one-time-code")})
            assert verified.status_code == 200, verified.text
            return str(browser.cookies["dsp_session"])


async def registered(world: dict[str, Any], producer: AIOKafkaProducer, notices: TopicReader, unique: str,
                     born: date) -> Patient:
    matricule = make_matricule(born, int(unique[:3], 16) % 1000)
    await producer.send_and_wait("registry.persons.v1", encode(person(
        matricule, f"reg-{unique}", email=f"anne.{unique}@example.lu")), key=matricule.encode())
    return Patient(matricule, notices, world)


async def statuses(world: dict[str, Any], tokens: list[str]) -> list[int]:
    """What `GET /v1/me/preferences` answers each session (200: open, 401: ended)."""
    async with httpx.AsyncClient(base_url=world["url"], timeout=30) as browser:
        return [(await browser.get("/v1/me/preferences", headers={"Cookie": f"dsp_session={t}"})).status_code
                for t in tokens]


async def test_a_password_change_logout_everywhere_and_a_new_letter_end_every_older_session(
        world: dict[str, Any], producer: AIOKafkaProducer, requests_to_notify: TopicReader, unique: str) -> None:
    anne = await registered(world, producer, requests_to_notify, unique, date(1977, 3, 8))
    await anne.activate("127.0.1.1")

    # a password change: every other session ends, the one that changed it stays
    older = [await anne.log_in("127.0.1.2") for _ in range(MANY)]
    current = await anne.log_in("127.0.1.2")
    assert await statuses(world, [*older, current]) == [200] * (MANY + 1)
    async with web(world, "127.0.1.2") as browser:
        changed = await browser.post("/v1/account/password", json={"password": PASSWORD,
                                                                   "new_password": "Beaufort-Castle-2028"},
                                     headers={"Cookie": f"dsp_session={current}"})
    assert changed.status_code == 200 and changed.json()["reason"] == "password changed", changed.text
    assert await statuses(world, [*older, current]) == [401] * MANY + [200]

    # log out everywhere, from one of them: all of them end, that one too
    older = [await anne.log_in("127.0.1.3", "Beaufort-Castle-2028") for _ in range(MANY)]
    assert await statuses(world, older) == [200] * MANY
    async with web(world, "127.0.1.3") as browser:
        ended = await browser.post("/v1/logout", json={"everywhere": True},
                                   headers={"Cookie": f"dsp_session={older[0]}"})
    assert ended.status_code == 200 and ended.json()["reason"] == "logged out everywhere", ended.text
    assert await statuses(world, [*older, current]) == [401] * (MANY + 1)

    # forgot password -> a new letter -> its code at start: every session ends
    older = [await anne.log_in("127.0.1.4", "Beaufort-Castle-2028") for _ in range(MANY)]
    async with web(world, "127.0.1.4") as browser:
        asked = await browser.post("/v1/password/forgot", json={"matricule": anne.matricule,
                                                                "altcha": await altcha(browser)})
        assert asked.status_code == 200, asked.text
        assert await statuses(world, older) == [200] * MANY  # asking for a letter ends nothing: anyone may ask
        started = await anne.start(browser)  # the new letter's code
        assert started.status_code == 200 and started.json()["next_step"] == "set-password", started.text
    assert await statuses(world, older) == [401] * MANY


async def test_a_stranger_on_eight_addresses_never_keeps_the_owner_out(
        world: dict[str, Any], producer: AIOKafkaProducer, requests_to_notify: TopicReader, unique: str,
        mongo: Any) -> None:
    """The attack: a script solving ALTCHAs from 127.0.0.2-9 retries each time its wait ends; the owner, on a new
    device at 127.0.0.10, tries every 4 s with the right password and a solved challenge. Before, she was held at
    `429 too many failed attempts` for 75 s (19/19); now she is in at her first try. Time is activation's clock,
    one second a round; each round's requests go out together."""
    clock: FakeClock = world["clock"]
    anne = await registered(world, producer, requests_to_notify, unique, date(1969, 10, 21))
    await anne.activate("127.0.2.1")
    strangers = {f"127.0.0.{i}": web(world, f"127.0.0.{i}") for i in range(2, 10)}
    due = dict.fromkeys(strangers, clock())
    told: dict[str, list[int]] = {a: [] for a in strangers}  # the waits each stranger was told
    failed, session, in_after = 0, "", None

    async def stranger(address: str) -> None:
        nonlocal failed
        browser = strangers[address]
        reply = await browser.post("/v1/login", json={"matricule": anne.matricule, "password": "Guessed-Pass-1",
                                                      "altcha": await altcha(browser)})
        if reply.status_code == 429:
            assert reply.json()["reason"].startswith("too many failed attempts; try again in"), reply.text
            told[address].append(int(reply.headers["retry-after"]))
            due[address] = clock() + timedelta(seconds=int(reply.headers["retry-after"]))
        else:
            assert (reply.status_code, reply.json()["reason"]) == (400, "wrong matricule or password"), reply.text
            failed += 1

    async def owner(second: int) -> None:
        """Her new device: the right password and a solved challenge; in once the one-time code is typed."""
        nonlocal session, in_after
        login = await web_owner.post("/v1/login", json={"matricule": anne.matricule, "password": PASSWORD,
                                                        "channel": "email", "altcha": await altcha(web_owner)})
        tries.append(login.status_code)
        if login.status_code == 200:
            verified = await web_owner.post("/v1/login/verify", json={"code": await anne.secret("one-time-code")})
            assert verified.status_code == 200, verified.text
            session, in_after = str(web_owner.cookies["dsp_session"]), second

    web_owner, tries = web(world, "127.0.0.10"), []
    try:
        for second in range(31):
            round_ = [stranger(a) for a in strangers if clock() >= due[a]]
            if not session and second and second % 4 == 0:  # every 4 s until she is in
                round_.append(owner(second))
            await asyncio.gather(*round_)
            clock.advance(seconds=1)
    finally:
        for browser in [*strangers.values(), web_owner]:
            await browser.aclose()
    # in at her first try, after the strangers' 32 failures in 4 s (before: 429 at every try)
    assert (in_after, tries) == (4, [200]), (in_after, tries)
    assert await statuses(world, [session]) == [200]
    assert failed == 8 * 7 and all(waits == [1, 3, 7, 15] for waits in told.values()), (failed, told)  # still slowed
    counted = await mongo[world["db"]]["attempts"].find_one({"_id": f"login:{anne.matricule}"})
    assert counted["failures"] == 8 * 3  # after her login (a success clears the matricule's count): 24 more
    keys = [d["_id"] async for d in mongo[world["db"]]["attempts"].find({})]
    assert keys and not [k for k in keys if "127." in k]  # an address is kept only as a keyed hash

    # her password change, right after: the current password, no challenge (before: 400 "solve the challenge")
    async with web(world, "127.0.0.10") as browser:
        cookie = {"Cookie": f"dsp_session={session}"}

        async def change(current: str, new: str) -> httpx.Response:
            return await browser.post("/v1/account/password", json={"password": current, "new_password": new},
                                      headers=cookie)

        changed = await change(PASSWORD, "Larochette-2029")
        assert changed.status_code == 200 and changed.json()["reason"] == "password changed", changed.text
        for _ in range(3):  # her own typos: a short delay, never a challenge
            assert (await change("Typo-Pass-1", "Vianden-2030")).json()["reason"] == "the current password is wrong"
        held = await change("Larochette-2029", "Vianden-2030")
        assert (held.status_code, held.headers["retry-after"], held.json()["challenge_required"]) == (429, "1", False)
        clock.advance(seconds=1)
        again = await change("Larochette-2029", "Vianden-2030")
        assert again.status_code == 200 and again.json()["reason"] == "password changed", again.text


async def test_challenges_are_limited_per_address_and_expired_ones_swept(world: dict[str, Any], mongo: Any) -> None:
    await fresh_window()
    async with web(world, "127.0.3.1") as browser, web(world, "127.0.3.2") as other:
        replies = [await browser.post(path) for path in ("/v1/activation/captcha", "/v1/activation/altcha") * 21]
        assert [r.status_code for r in replies] == [200] * LIMIT + [429] * 2  # both endpoints in one count
        refused = replies[-1]
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.json()["reason"] == "too many challenges asked from this address; wait a minute"
        assert (await other.post("/v1/activation/altcha")).status_code == 200  # another address: its own count

        clock: FakeClock = world["clock"]
        db = mongo[world["db"]]
        assert await db["challenges"].count_documents({}) >= LIMIT + 1
        clock.advance(minutes=6)  # every challenge made so far has expired (5 minutes)
        assert (await other.post("/v1/activation/captcha")).status_code == 200  # making one sweeps them away
        left = [d async for d in db["challenges"].find({})]
        assert len(left) == 1 and left[0]["expires_at"] > clock()
        assert await db["challenges_used"].count_documents({"expires_at": {"$lte": clock()}}) == 0
