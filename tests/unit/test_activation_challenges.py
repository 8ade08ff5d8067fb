"""Challenges (issue 24, "Trust II"): a wrong ALTCHA answer uses its challenge up, as a wrong captcha answer does;
unused challenges do not pile up (FerretDB has no TTL index: making one sweeps the expired ones away, at most
once a minute, on the injected clock); the gateway limits how many a client address asks for, the captcha and the
ALTCHA counted together. activation's challenges over the in-memory store; the gateway's limiter on the `limits`
library's in-memory storage."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime
from typing import Any

from altcha.v1 import solve_challenge
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from pymongo import AsyncMongoClient
from starlette.requests import Request

from schemas.activation import ChallengeAnswer
from services.activation.service.challenges import PURGE_EVERY, VALIDITY, Challenges
from services.gateway.limits import CHALLENGES, EdgeLimiter
from tests.fakes.activation import FakeActivationStore
from tests.inprocess import FakeClock
from tests.unit.test_activation_flow import KEY, Captcha


def challenges() -> tuple[Challenges, FakeActivationStore, FakeClock]:
    store, clock = FakeActivationStore(), FakeClock(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
    return Challenges(store, KEY, clock, Captcha()), store, clock


async def altcha(made: Challenges, wrong: bool = False) -> ChallengeAnswer:
    """An ALTCHA challenge, solved as the browser's widget does (or with a wrong number)."""
    challenge = await made.new_altcha()
    solution = solve_challenge(challenge["challenge"], challenge["salt"], challenge["algorithm"],
                               challenge["maxnumber"])
    assert solution is not None
    payload = {**{k: challenge[k] for k in ("algorithm", "challenge", "salt", "signature")},
               "number": solution.number + 1 if wrong else solution.number}
    return ChallengeAnswer(altcha=base64.b64encode(json.dumps(payload).encode()).decode())


def right_number(answer: ChallengeAnswer) -> ChallengeAnswer:
    payload = json.loads(base64.b64decode(str(answer.altcha)))
    payload["number"] -= 1
    return ChallengeAnswer(altcha=base64.b64encode(json.dumps(payload).encode()).decode())


def test_a_wrong_altcha_answer_uses_its_challenge_up() -> None:
    async def go() -> None:
        made, _, _ = challenges()
        wrong = await altcha(made, wrong=True)
        assert not await made.solved(wrong)
        assert not await made.solved(right_number(wrong))  # the right number, too late: the challenge is spent
        right = await altcha(made)
        assert await made.solved(right)
        assert not await made.solved(right)  # and a right one is single use

    asyncio.run(go())


def test_a_wrong_captcha_answer_uses_its_challenge_up() -> None:
    async def go() -> None:
        made, _, _ = challenges()
        captcha_id = (await made.new_captcha())["captcha_id"]
        assert not await made.solved(ChallengeAnswer(captcha_id=captcha_id, captcha_answer="WRONG"))
        assert not await made.solved(ChallengeAnswer(captcha_id=captcha_id, captcha_answer="kx7pa"))
        fresh = (await made.new_captcha())["captcha_id"]
        assert await made.solved(ChallengeAnswer(captcha_id=fresh, captcha_answer="kx7pa"))

    asyncio.run(go())


def test_garbage_unknown_and_expired_altcha_answers_are_refused() -> None:
    async def go() -> None:
        made, store, clock = challenges()
        for payload in ("not base64 at all!", base64.b64encode(b"[1, 2]").decode(),
                        base64.b64encode(b'{"signature": 7}').decode(), base64.b64encode(b"{}").decode(),
                        base64.b64encode(b"\xff\xfe").decode()):
            assert not await made.solved(ChallengeAnswer(altcha=payload))
        forged = json.loads(base64.b64decode(str((await altcha(made)).altcha)))
        forged["signature"] = "0" * 64  # a challenge this service never made
        assert not await made.solved(ChallengeAnswer(altcha=base64.b64encode(json.dumps(forged).encode()).decode()))
        late = await altcha(made)
        clock.advance(seconds=VALIDITY.total_seconds())
        assert not await made.solved(late)
        assert not store.purges[1:]  # no sweep is due: the first challenge swept, nothing since (a minute)

    asyncio.run(go())


def test_making_a_challenge_sweeps_expired_ones_away_at_most_once_a_minute() -> None:
    async def go() -> None:
        made, store, clock = challenges()
        used = await altcha(made)
        assert await made.solved(used)
        for _ in range(5):
            await made.new_captcha()
        assert (len(store.challenges), len(store.challenges_used), len(store.purges)) == (6, 1, 1)
        clock.advance(seconds=VALIDITY.total_seconds())  # all six expired
        await made.new_altcha()
        assert (len(store.challenges), len(store.challenges_used), len(store.purges)) == (1, 0, 2)
        assert not await made.solved(used)  # a replay once its challenge is swept: refused
        clock.advance(seconds=PURGE_EVERY.total_seconds() / 2)
        await made.new_captcha()  # within a minute of the last sweep: none
        assert (len(store.challenges), len(store.purges)) == (2, 2)
        clock.advance(seconds=VALIDITY.total_seconds())  # both expired
        await made.new_captcha()
        assert (len(store.challenges), len(store.purges)) == (1, 3)  # the new one only

    asyncio.run(go())


def limiter(per_minute: int) -> EdgeLimiter:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient("mongodb://127.0.0.1:9/", connect=False)
    edge = EdgeLimiter(client["db"]["rate_limits"], per_minute, 100)
    edge.strategy = SlidingWindowCounterRateLimiter(MemoryStorage())  # the same strategy, counted in memory
    return edge


def request(path: str, peer: str) -> Request:
    return Request({"type": "http", "method": "POST", "path": path, "headers": [], "client": (peer, 4711),
                    "query_string": b""})


async def test_challenges_are_limited_per_client_address_captcha_and_altcha_together() -> None:
    edge = limiter(6)
    paths = sorted(CHALLENGES) * 3  # altcha, captcha, altcha ...
    assert [await edge.refusal(request(path, "198.51.100.7")) for path in paths] == [None] * 6
    refused = await edge.refusal(request("/v1/activation/altcha", "198.51.100.7"))
    assert refused is not None and refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    body = json.loads(bytes(refused.body))
    assert body["reason"] == "too many challenges asked from this address; wait a minute"
    assert await edge.refusal(request("/v1/activation/captcha", "198.51.100.7")) is not None
    assert await edge.refusal(request("/v1/activation/captcha", "198.51.100.8")) is None  # another address
    assert await edge.refusal(request("/v1/activation/start", "198.51.100.7")) is None  # its own count
