"""The FHIR door's rate limits (`services.gateway.limits.FhirLimits`, checked by `fhir/routes.py`), driven through
its routes over ASGI: reads are limited per caller identity — a token's client and professional, so a new token
starts no new allowance, and nobody else's calls count against them — and the token endpoint per client address
(a stranger elsewhere cannot lock a practice out); a refusal is a 429 `OperationOutcome` with `Retry-After`, and
counters that do not answer a 503. (The shared counters on FerretDB: tests/integration/test_fhir_api.py.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError

from services.gateway.context import Context
from services.gateway.fhir import routes as fhir_routes
from services.gateway.fhir.ids import PatientIds
from services.gateway.fhir.smart import Grant
from services.gateway.limits import FhirLimits

NOW = datetime(2026, 12, 8, 9, tzinfo=UTC)
READ = "/fhir/r4/Patient/not-one-of-ours"  # a read that needs a token, then answers 404 without asking a service
TOKENS = {"t-weber-1000-aaaaaaaaaaaaaaaa": Grant("PRO-1000", frozenset({"user/*.read"}), "cabinet-weber"),
          "t-weber-1000-bbbbbbbbbbbbbbbb": Grant("PRO-1000", frozenset({"user/*.read"}), "cabinet-weber"),
          "t-weber-1001-cccccccccccccccc": Grant("PRO-1001", frozenset({"user/*.read"}), "cabinet-weber"),
          "t-idp-1000-dddddddddddddddddd": Grant("PRO-1000", frozenset({"user/*.read"}), None)}


class Tokens:
    async def grant(self, token: str) -> Grant | None:
        return TOKENS.get(token)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Down(SlidingWindowCounterRateLimiter):
    async def hit(self, *args: Any, **kwargs: Any) -> bool:
        raise StorageError(ConnectionError("FerretDB down"))


def door(limits: FhirLimits) -> FastAPI:
    app = FastAPI()
    app.include_router(fhir_routes.router)
    app.state.fhir = fhir_routes.FhirDoor(PatientIds(b"unit-key" * 4), Tokens(), {}, None, NOW,  # type: ignore[arg-type]
                                          limits)
    app.state.ctx = Context(None, None, None, None, None, False)  # type: ignore[arg-type]
    app.state.clock = lambda: NOW
    return app


def web(app: FastAPI, address: str = "198.51.100.7") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 40000)),
                             base_url="http://dsp.test")


def throttled(reply: httpx.Response) -> int:
    """A 429 as FHIR says it; its Retry-After."""
    assert reply.status_code == 429, reply.text
    assert reply.headers["content-type"] == "application/fhir+json"
    assert reply.json()["issue"][0]["code"] == "throttled"
    retry = int(reply.headers["Retry-After"])
    assert 1 <= retry <= 60
    return retry


async def test_reads_are_limited_per_client_and_professional_whatever_the_token() -> None:
    clock = Clock()
    app = door(FhirLimits(SlidingWindowCounterRateLimiter(MemoryStorage()), 30, 3, clock))

    async def read(token: str) -> httpx.Response:
        async with web(app) as client:
            return await client.get(READ, headers={"Authorization": f"Bearer {token}"})

    first, again, colleague, own = TOKENS  # again: another token of the same client for the same professional
    assert [(await read(first)).status_code for _ in range(3)] == [404] * 3
    throttled(await read(first))
    throttled(await read(again))  # a new token starts no new allowance
    assert (await read(colleague)).status_code == 404  # the same software for another professional: its own
    assert (await read(own)).status_code == 404  # the professional's own identity: another caller
    for _ in range(20):  # a stranger's calls without a valid token count against nobody
        assert (await read("t-forged-1000-zzzzzzzzzzzzzz")).status_code == 401
    assert (await read(colleague)).status_code == 404
    clock.now += 120  # two minutes on: the window has slid past
    assert (await read(first)).status_code == 404


async def test_token_requests_are_limited_per_client_address_and_a_stranger_locks_nobody_else_out() -> None:
    app = door(FhirLimits(SlidingWindowCounterRateLimiter(MemoryStorage()), 2, 600))

    async def ask(address: str) -> httpx.Response:
        async with web(app, address) as client:
            return await client.post("/fhir/r4/auth/token", data={"grant_type": "password"})

    assert [(await ask("203.0.113.66")).status_code for _ in range(2)] == [400, 400]  # refused, but counted
    throttled(await ask("203.0.113.66"))
    assert (await ask("198.51.100.7")).status_code == 400  # the practice, elsewhere: asked, answered as before

    broken = door(FhirLimits(Down(MemoryStorage()), 2, 600))
    async with web(broken) as client:
        down = await client.post("/fhir/r4/auth/token", data={"grant_type": "password"})
    assert down.status_code == 503 and down.json()["resourceType"] == "OperationOutcome"


def test_the_read_limit_counts_in_memory_per_pair() -> None:
    clock: Callable[[], float] = Clock()
    limits = FhirLimits(SlidingWindowCounterRateLimiter(MemoryStorage()), 30, 2, clock)
    assert [limits.call("c", "PRO-1"), limits.call("c", "PRO-1")] == [None, None]
    assert limits.call("c", "PRO-1") is not None and limits.call(None, "PRO-1") is None
