"""A portal page calls the portal API in-process several times; the session is checked with activation once per
page (issue 25: one page made two identical `/v1/sessions/check` calls), and again for the next page."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi import FastAPI, Request

from services.gateway.context import Context, OneSessionCheck, Session, me
from services.gateway.problems import Refusal
from services.gateway.web.api import Api


def mesh() -> tuple[FastAPI, list[str]]:
    checks: list[str] = []

    def activation(request: httpx.Request) -> httpx.Response:
        token = json.loads(request.content)["session_token"]
        checks.append(token)
        if token == "good":
            return httpx.Response(200, json={"matricule": "1893120105732",  # activation's `SessionV1`
                                             "expires_at": "2026-12-01T10:30:00+00:00"})
        return httpx.Response(401, json={"detail": "unknown session"})

    app = FastAPI()
    app.state.ctx = Context(bus=None, activation=httpx.AsyncClient(transport=httpx.MockTransport(activation),  # type: ignore[arg-type]
                                                                    base_url="http://activation"),
                            access=None, records=None, notify=None, secure=False)  # type: ignore[arg-type]

    @app.get("/v1/me/who")
    async def who(request: Request, dsp_session: Session = None) -> dict[str, Any]:
        try:
            return {"matricule": await me(request.app.state.ctx, dsp_session)}
        except Refusal as refused:
            return {"refused": refused.status_code}

    @app.get("/page")
    async def page(request: Request) -> list[Any]:  # a portal page: two reads of the API, in-process
        api = Api(request)
        return [await api.call("GET", "/v1/me/who"), await api.call("GET", "/v1/me/who")]

    @app.middleware("http")  # as the gateway's own: its call_next runs the route in another task
    async def headers(request: Request, call_next: Any) -> Any:
        return await call_next(request)

    app.add_middleware(OneSessionCheck)
    return app, checks


async def test_a_page_checks_its_session_once_and_the_next_page_again() -> None:
    app, checks = mesh()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal",
                                 cookies={"dsp_session": "good"}) as browser:
        first = (await browser.get("/page")).json()
        assert first == [{"matricule": "1893120105732"}] * 2
        assert checks == ["good"]
        await browser.get("/page")
        assert checks == ["good", "good"]  # nothing outlives the page: a session ended since is seen at once


async def test_a_refused_session_is_not_remembered_and_each_api_request_is_checked() -> None:
    app, checks = mesh()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal") as browser:
        browser.cookies.set("dsp_session", "ended")
        assert (await browser.get("/page")).json() == [{"refused": 401}] * 2
        assert checks == ["ended", "ended"]
        browser.cookies.set("dsp_session", "good")
        await browser.get("/v1/me/who")
        await browser.get("/v1/me/who")
        assert checks == ["ended", "ended", "good", "good"]  # two requests from outside: two checks
