"""The per-session limit (issue 29, the portal under a crowd): counted in the replica's memory, without a database
round trip, as a sliding window on an injected clock — and once per request from outside: a portal page's
in-process API calls are one page view, one hit, while every request a JSON client sends is counted."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI, Request
from pymongo import AsyncMongoClient

from services.gateway.context import OneSessionCheck
from services.gateway.limits import EdgeLimiter, SessionWindows
from services.gateway.web.api import Api


class Clock:
    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def test_a_window_lets_the_limit_through_then_refuses_until_the_next_minute() -> None:
    clock = Clock(6_000_000.0)  # the start of a minute
    windows = SessionWindows(5, clock)
    assert [windows.hit("a") for _ in range(5)] == [None] * 5
    clock.at += 15
    assert windows.hit("a") == 45  # refused: the seconds left in this minute
    assert windows.hit("b") is None  # another session has its own count


def test_the_previous_minute_weighs_as_much_as_it_still_overlaps() -> None:
    clock = Clock(6_000_000.0)
    windows = SessionWindows(10, clock)
    for _ in range(10):
        assert windows.hit("a") is None
    clock.at += 60 + 30  # half-way through the next minute: the 10 weigh 5
    assert [windows.hit("a") for _ in range(6)] == [None] * 5 + [30]
    clock.at += 18  # 48 s into it: they weigh 2 (10 x 0.2), 5 taken this minute
    assert [windows.hit("a") for _ in range(4)] == [None] * 3 + [12]
    clock.at += 60  # two minutes on: nothing of the first weighs, the second's 9 weigh 0
    assert windows.hit("a") is None


def test_sessions_idle_for_two_minutes_are_forgotten() -> None:
    clock = Clock(6_000_000.0)
    windows = SessionWindows(10, clock)
    for n in range(100):
        windows.hit(f"s{n}")
    clock.at += 60
    windows.hit("fresh")
    assert len(windows) == 101  # the previous minute still weighs
    clock.at += 60
    windows.hit("fresh")
    assert len(windows) == 1


def edge(limit: int) -> FastAPI:
    """The gateway's edge as it is wired: the one-check middleware outermost, the limiter in the HTTP middleware
    (its MongoDB unreachable: the session limit never asks it), and a page calling two API routes in-process."""
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient("mongodb://127.0.0.1:9/", connect=False)
    limiter = EdgeLimiter(mongo["db"]["rate_limits"], 10, limit)
    app = FastAPI()

    @app.get("/v1/me/thing")
    async def thing() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/page")
    async def page(request: Request) -> list[int]:
        api = Api(request)
        return [(await api.raw("GET", "/v1/me/thing")).status_code for _ in range(3)]

    @app.middleware("http")
    async def limited(request: Request, call_next: Any) -> Any:
        return await limiter.refusal(request) or await call_next(request)

    app.add_middleware(OneSessionCheck)
    return app


async def test_a_page_view_is_one_hit_however_many_api_calls_it_makes() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=edge(4)), base_url="http://portal",
                                 cookies={"dsp_session": "s1"}) as browser:
        pages = [(await browser.get("/page")).json() for _ in range(4)]
        assert pages == [[200, 200, 200]] * 4  # 12 API calls, 4 page views: within a limit of 4
        refused = await browser.get("/page")  # the fifth page view: every call of it is refused, not only the first
        assert refused.json() == [429, 429, 429]


async def test_each_request_from_outside_is_counted_and_the_limit_is_a_problem() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=edge(3)), base_url="http://api",
                                 cookies={"dsp_session": "s2"}) as client:
        statuses = [(await client.get("/v1/me/thing")).status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        limited = await client.get("/v1/me/thing")
        assert limited.headers["content-type"] == "application/problem+json"
        assert limited.json()["reason"] == "too many requests in this session; wait a minute"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        client.cookies.set("dsp_session", "s3")
        assert (await client.get("/v1/me/thing")).status_code == 200  # another session: its own count
