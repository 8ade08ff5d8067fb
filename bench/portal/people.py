"""The crowd: N patients the registry announces, each activated and logged in through the real flow at the
gateway — the letter's code, an ALTCHA proof of work (the accessible challenge, solved as the browser's widget
does), a password, the one-time code by e-mail; then a login with a second one-time code — whose session cookie the
bench keeps. The codes are read as bench.login reads them: from `notify.requests.v1`, opened with notify's private
key (notify itself still delivers them, to the bench's SMTP sink). Then laboratories publish results for each,
signed, on `lab.results.v1`: records stores them, notify files a notification per document, as in production."""

from __future__ import annotations

import asyncio
import base64
import json
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from altcha.v1 import solve_challenge

from bench.common import SignedLabs, kafka_options
from bench.seeding import numbered_matricule
from demo.laboratory import LABS, lab_result, person
from services.kit.sealing import request_binding, unseal

PASSWORD = "Mullerthal-Trail-58"  # noqa: S105 - the bench's patients' password, for this bench only
SIGNED = SignedLabs(LABS)


@dataclass(frozen=True)
class Patient:
    matricule: str
    session: str  # the dsp_session cookie
    document: str  # a lab result of hers, with values


class Mailbox:
    """notify's requests as they are published: each sealed code, by recipient (matricule) and template."""

    def __init__(self, bootstrap: str, private_key: str) -> None:
        self.consumer = AIOKafkaConsumer("notify.requests.v1", **kafka_options(bootstrap), group_id=None,
                                         enable_auto_commit=False)
        self.key = private_key
        self.codes: dict[tuple[str, str], asyncio.Queue[str]] = defaultdict(asyncio.Queue)

    async def start(self) -> None:
        """Positioned at the topic's end before anything is asked, so that no code is missed or taken twice."""
        await self.consumer.start()
        for _ in range(300):
            if parts := self.consumer.assignment():
                break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError("notify.requests.v1: no partition assigned in 30 s")
        await self.consumer.seek_to_end(*parts)
        for tp in parts:
            await asyncio.wait_for(self.consumer.position(tp), 30)

    async def run(self) -> None:
        async for record in self.consumer:
            try:
                self._read(json.loads(record.value))
            except Exception as exc:  # noqa: BLE001 - one unreadable request must not stop the mailbox
                print(f"mailbox: a notify request not read ({type(exc).__name__}: {exc})", flush=True)

    def _read(self, req: dict[str, Any]) -> None:
        if req.get("sealed_parameters"):
            binding = request_binding(req["request_id"], req["channel"], req["recipient"], req.get("destination"))
            code = unseal(self.key, req["sealed_parameters"], bound_to=binding).get("code")
            if code:  # not a presence password's letter (access's), sealed to notify too
                self.codes[(req["recipient"], req["template_id"])].put_nowait(code)

    async def code(self, matricule: str, template: str) -> str:
        return await asyncio.wait_for(self.codes[(matricule, template)].get(), 60)


async def announce(bootstrap: str, people: list[str]) -> None:
    """The registry's persons (each with an e-mail address) and the laboratories' signing keys."""
    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all", linger_ms=5)
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send("registry.persons.v1", json.dumps(
            {**person(m, i), "email": f"patient{i}@example.lu"}).encode(), key=m.encode())
            for i, m in enumerate(people)])
        await SIGNED.announce(producer)
    finally:
        await producer.stop()


def _ok(reply: httpx.Response) -> Any:
    if reply.status_code != 200:
        raise RuntimeError(f"{reply.request.url.path}: HTTP {reply.status_code} {reply.text[:300]}")
    return reply.json()


async def _altcha(web: httpx.AsyncClient) -> str:
    """The ALTCHA challenge solved as the browser's widget does (a proof of work, off the event loop)."""
    ch = _ok(await web.post("/v1/activation/altcha"))
    solution = await asyncio.to_thread(solve_challenge, ch["challenge"], ch["salt"], ch["algorithm"], ch["maxnumber"])
    if solution is None:
        raise RuntimeError("ALTCHA challenge without a solution")
    payload = {k: ch[k] for k in ("algorithm", "challenge", "salt", "signature")}
    return base64.b64encode(json.dumps({**payload, "number": solution.number}).encode()).decode()


async def activate_and_log_in(gateway: str, mailbox: Mailbox, matricule: str, i: int) -> str:
    """From the letter to a session, as a person at her own address does; the session cookie."""
    address = f"198.18.{i // 250}.{i % 250 + 1}"  # her own, behind the (trusted) reverse proxy
    async with httpx.AsyncClient(base_url=gateway, timeout=60, headers={"X-Forwarded-For": address}) as web:
        letter = await mailbox.code(matricule, "activation-code")
        _ok(await web.post("/v1/activation/start", json={"matricule": matricule, "activation_code": letter,
                                                         "terms_version": "2026-01", "altcha": await _altcha(web)}))
        _ok(await web.post("/v1/activation/set-password", json={"password": PASSWORD}))
        _ok(await web.post("/v1/activation/choose-channel", json={"channel": "email"}))
        _ok(await web.post("/v1/activation/verify-otp", json={"code": await mailbox.code(matricule, "one-time-code")}))
        _ok(await web.post("/v1/activation/skip-luxtrust", json={}))
        _ok(await web.post("/v1/activation/confirm", json={}))
        _ok(await web.post("/v1/login", json={"matricule": matricule, "password": PASSWORD, "channel": "email"}))
        _ok(await web.post("/v1/login/verify", json={"code": await mailbox.code(matricule, "one-time-code")}))
        session = web.cookies.get("dsp_session")
        if not session:
            raise RuntimeError("logged in without a session cookie")
        return session


async def crowd(gateway: str, bootstrap: str, seal_private: str, count: int, at_once: int = 16) -> dict[str, str]:
    """`count` patients activated and logged in, `at_once` at a time: matricule -> session cookie."""
    people = [numbered_matricule(i) for i in range(count)]
    mailbox = Mailbox(bootstrap, seal_private)
    await mailbox.start()
    reader = asyncio.create_task(mailbox.run())
    gate = asyncio.Semaphore(at_once)

    async def one(i: int, m: str) -> tuple[str, str]:
        async with gate:
            return m, await activate_and_log_in(gateway, mailbox, m, i)
    try:
        await announce(bootstrap, people)
        return dict(await asyncio.gather(*[one(i, m) for i, m in enumerate(people)]))
    finally:
        reader.cancel()
        await mailbox.consumer.stop()


async def results(bootstrap: str, people: list[str], each: int, now: datetime) -> int:
    """`each` signed lab results per patient, reported over the last 300 days (so the year's timeline shows
    them); how many were published."""
    rng = random.Random(29)
    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        sent = []
        for m in people:
            for _ in range(each):
                key, value = lab_result(rng, now - timedelta(days=rng.uniform(1, 300)), mistakes=0.0, patients=[m])
                sent.append(await producer.send("lab.results.v1", value, key=key, headers=SIGNED.headers(key, value)))
        await asyncio.gather(*sent)
        return len(sent)
    finally:
        await producer.stop()


async def stored(gateway: str, sessions: dict[str, str], each: int, within_s: float = 300) -> list[Patient]:
    """Once every patient sees her `each` results and at least one notification through the API: each with the
    id of one of her lab results (the document page's)."""
    out: list[Patient] = []
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as web:
        deadline = asyncio.get_running_loop().time() + within_s
        for m, session in sessions.items():
            cookie = {"Cookie": f"dsp_session={session}"}
            while True:
                docs = _ok(await web.get("/v1/me/documents", params={"limit": 50}, headers=cookie))["items"]
                notes = _ok(await web.get("/v1/me/notifications", params={"limit": 5}, headers=cookie))["items"]
                if len(docs) >= each and notes:
                    break
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"{len(docs)} of {each} results, {len(notes)} notifications after {within_s} s")
                await asyncio.sleep(0.5)
            out.append(Patient(m, session, docs[0]["id"]))
    return out


def now() -> datetime:
    return datetime.now(UTC)
