"""A portal page's header names the person without asking access for the whole access state on every page (issue
29: 5 ms and access's CPU a page view), and without weakening anything: the session is checked with activation on
every page (an ended session is the login page at once, whatever was remembered), the name is remembered per
session for a short while only, a DSP acted on for someone else is decided by access on every page (an assistant
removed is taken back to their own DSP)."""

from __future__ import annotations

import base64
import json
import secrets
from collections import Counter
from datetime import date
from typing import Any

import httpx
import pytest

from services.gateway import context
from services.gateway.app import GatewaySettings, create_app
from services.gateway.web.web import Names
from tests.inprocess import settings_from
from tests.support import make_matricule

ME, CHILD = "1893120105732", make_matricule(date(2015, 6, 12))
ENV = {"DSP_LOG_PSEUDONYM_KEY": secrets.token_hex(24), "DSP_MONGO_URI": "mongodb://127.0.0.1:9/",
       "DSP_KAFKA_BOOTSTRAP": "127.0.0.1:9", "DSP_GATEWAY_SECURE_COOKIES": "false"}


def state(patient: str, name: str) -> dict[str, Any]:
    return {"patient": patient, "patient_name": name, "version": 1, "grants": [], "referring_gp": None,
            "blocked_professionals": [], "blocked_documents": [], "assistants": [], "emergency_refused": False,
            "presence_password": False, "consents": []}


class Services:
    """activation, access, records and notify as the gateway's clients see them; what each was asked."""

    def __init__(self) -> None:
        self.asked: Counter[str] = Counter()
        self.sessions = {"good": ME}
        self.may_act_for_child = True

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, body = request.url.path, json.loads(request.content or b"{}")
        self.asked[path] += 1
        if path == "/v1/sessions/check":
            if body["session_token"] not in self.sessions:
                return httpx.Response(401, json={"detail": "no such session"})
            return httpx.Response(200, json={"matricule": self.sessions[body["session_token"]],
                                             "expires_at": "2026-12-08T10:00:00+00:00"})
        if path == "/v1/decisions":
            allowed = self.may_act_for_child and body["patient"] == CHILD
            return httpx.Response(200, json={"allowed": allowed, "reason": "accepted" if allowed else
                                             "not an assistant of this patient"})
        if path == "/v1/access-state":
            named = {ME: "Marie Muller", CHILD: "Léa Muller"}
            return httpx.Response(200, json=state(body["patient"], named[body["patient"]]))
        if path == "/v1/documents":
            return httpx.Response(200, json={"items": [], "next_cursor": None})
        return httpx.Response(404, json={"detail": path})


@pytest.fixture
def world() -> tuple[Any, Services]:
    app, services = create_app(settings_from(GatewaySettings, ENV)), Services()

    def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(services), base_url="http://service")

    app.state.ctx = context.Context(None, client(), client(), client(), client(), False)  # type: ignore[arg-type]
    return app, services


def browser(app: Any, session: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1",
                             cookies={"dsp_session": session})


async def test_the_name_is_asked_once_per_session_and_the_session_on_every_page(world: Any) -> None:
    app, services = world
    async with browser(app, "good") as web:
        pages = [await web.get("/documents") for _ in range(3)]
    assert [p.status_code for p in pages] == [200] * 3 and all("Marie Muller" in p.text for p in pages)
    assert services.asked["/v1/access-state"] == 1  # the first page only
    assert services.asked["/v1/sessions/check"] == 3  # but every page's session was checked


async def test_an_ended_session_is_the_login_page_at_once_whatever_was_remembered(world: Any) -> None:
    app, services = world
    async with browser(app, "good") as web:
        assert "Marie Muller" in (await web.get("/documents")).text
        del services.sessions["good"]  # logged out, or every session ended, elsewhere
        ended = await web.get("/documents")
    assert (ended.status_code, ended.headers["location"]) == (303, "/login")
    assert "Marie Muller" not in ended.text


async def test_a_page_that_reads_nothing_asks_access_for_the_name(world: Any) -> None:
    app, services = world
    async with browser(app, "good") as web:
        await web.get("/documents")
        bad = await web.get("/timeline", params={"start": "not a date"})  # refused before any read
    assert bad.status_code == 400 and "Marie Muller" in bad.text
    assert services.asked["/v1/access-state"] == 2  # no read answered: nothing proved the session, access asked


async def test_acting_for_another_dsp_is_decided_on_every_page_and_ends_when_the_assistant_is_removed(
        world: Any) -> None:
    app, services = world
    sealed = base64.urlsafe_b64encode(app.state.portal_box.encrypt(CHILD.encode())).decode()
    async with browser(app, "good") as web:
        web.cookies.set("dsp_acting", sealed)
        first, second = await web.get("/documents"), await web.get("/documents")
        assert "Léa Muller" in first.text and "Léa Muller" in second.text
        assert services.asked["/v1/access-state"] == 2  # each page: access decides and names
        services.may_act_for_child = False  # the parent is no longer her assistant
        back = await web.get("/documents")
    assert back.status_code == 200 and "Léa Muller" not in back.text and "Marie Muller" in back.text
    assert 'dsp_acting=""' in back.headers["set-cookie"]  # her own DSP from now on


def test_names_are_forgotten_after_their_time_and_kept_only_under_a_hash() -> None:
    now = [1000.0]
    names = Names(ttl_s=60, size=2, now=lambda: now[0])
    names.put("token-1", "Marie Muller")
    assert names.get("token-1") == "Marie Muller" and names.get("token-2") is None
    assert all(b"token-1" not in key for key in names._names)
    now[0] += 61
    assert names.get("token-1") is None
    names.put("a", "A")
    names.put("b", "B")
    names.put("c", "C")  # full: everything forgotten, then this one kept
    assert (names.get("a"), names.get("c")) == (None, "C")


async def test_every_answer_has_the_edge_headers_and_a_page_keeps_its_own(world: Any) -> None:
    """The edge (`app.Edge`, a plain ASGI middleware): the security headers on every answer without replacing a
    portal page's own CSP and cache rule, HSTS behind TLS (ours only), each answer counted by route."""
    app, _services = world
    async with browser(app, "good") as web:
        page, api = await web.get("/documents"), await web.get("/v1/me/documents")
        metrics = (await web.get("/metrics")).text
    assert page.headers["x-frame-options"] == api.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in page.headers["content-security-policy"]  # the page's own
    assert api.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert "strict-transport-security" not in page.headers  # DSP_GATEWAY_SECURE_COOKIES=false: plain HTTP
    assert 'dsp_gateway_requests_total{route="/documents",status="2xx"} 1.0' in metrics
    assert 'dsp_gateway_requests_total{route="/v1/me/documents",status="2xx"} 2.0' in metrics  # in-process too
    secure = create_app(settings_from(GatewaySettings, {**ENV, "DSP_GATEWAY_SECURE_COOKIES": "true"}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=secure), base_url="http://127.0.0.1") as web:
        live = await web.get("/health/live")
    assert live.headers.get_list("strict-transport-security") == ["max-age=31536000; includeSubDomains"]
