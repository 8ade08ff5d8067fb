"""The portal's only way to the DSP: the portal API (`/v1/...`) called in-process (ASGI), as a browser would.

Each page request makes an `Api` holding the browser's own cookies (the API's opaque session, flow, login, device
and professional cookies): the API decides everything — who is logged in, what may be read, every limit — exactly as
for a JSON client, and the cookies it sets are passed back to the browser. The TCP peer and any `X-Forwarded-For`
are handed on, so the API's per-client limits (and activation's delay after failed logins) count the person, not
the portal, behind a trusted reverse proxy too. No database, no other service's module.

A call is handed to the application as an ASGI request built here (`in_process`: the method, path, query, JSON
body, the page's Host, cookies, peer and forwarded addresses), its answer read back as an `httpx.Response`: no HTTP
client at all between the page and the API (an httpx client made per call cost ~1 ms of the gateway's CPU, and
even one shared client's request building ~0.3 ms a call)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from json import dumps
from typing import Any
from urllib.parse import quote, unquote, urlencode

import httpx
from fastapi import Request, Response
from starlette.types import ASGIApp, Message

API_COOKIES = ("dsp_session", "dsp_flow", "dsp_login", "dsp_device", "dsp_pro")


@dataclass
class Problem(Exception):
    """The API's refusal (an RFC 9457 problem): the status, the reason in English, the fields concerned."""

    status: int
    reason: str
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def fields(self) -> dict[str, str]:
        """The field each error concerns (the last part of its `loc`) → its message."""
        out: dict[str, str] = {}
        for e in self.body.get("errors") or []:
            loc = [str(p) for p in e.get("loc", []) if p != "body"]
            out.setdefault(loc[-1] if loc else "", str(e.get("msg", "invalid")))
        return out

    @property
    def retry_after_s(self) -> int | None:
        value = self.body.get("retry_after_s")
        return int(value) if value else None


def _checked(reply: httpx.Response) -> httpx.Response:
    """The reply, or its problem raised (`Problem`)."""
    if reply.status_code < 400:
        return reply
    try:
        body = reply.json()
    except ValueError:
        body = {}
    raise Problem(reply.status_code, str(body.get("reason") or body.get("title") or "error"), body)


def _query(params: dict[str, Any] | None) -> bytes:
    """The query string, as httpx would send it: a list is the name repeated, a bool true/false."""
    pairs: list[tuple[str, str]] = []
    for name, value in (params or {}).items():
        for one in value if isinstance(value, list | tuple) else [value]:
            pairs.append((name, ("true" if one else "false") if isinstance(one, bool) else
                          "" if one is None else str(one)))
    return urlencode(pairs, quote_via=quote).encode()


async def in_process(app: ASGIApp, method: str, path: str, *, params: dict[str, Any] | None = None,
                     json: Any = None, headers: dict[str, str], host: str, peer: tuple[str, int]) -> httpx.Response:
    """`app`'s answer to one request, called in-process (as `httpx.ASGITransport` would, without a client)."""
    raw = [(b"host", host.encode("latin-1"))] + [(k.lower().encode("latin-1"), v.encode("latin-1"))
                                                  for k, v in headers.items()]
    body = b""
    if json is not None:
        body = dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        raw += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "headers": raw,
             "scheme": "http", "path": unquote(path), "raw_path": quote(unquote(path)).encode(),
             "query_string": _query(params),
             "server": (host.rpartition(":")[0] or host, 80), "client": peer, "root_path": ""}
    sent_body, done = False, asyncio.Event()
    status, answered, parts = 500, list[tuple[bytes, bytes]](), list[bytes]()

    async def receive() -> Message:
        nonlocal sent_body
        if sent_body:
            await done.wait()
            return {"type": "http.disconnect"}
        sent_body = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status, answered
        if message["type"] == "http.response.start":
            status, answered = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            if message.get("body") and method != "HEAD":
                parts.append(message["body"])
            if not message.get("more_body", False):
                done.set()

    await app(scope, receive, send)
    done.set()
    return httpx.Response(status, headers=answered, content=b"".join(parts))


class Api:
    """One page request's client to the portal API (`acting`: the matricule of a DSP the person assists)."""

    def __init__(self, request: Request, acting: str | None = None) -> None:
        self.request, self.acting = request, acting
        self.cookies = {k: v for k in API_COOKIES if (v := request.cookies.get(k))}
        self.set_cookies: list[str] = []
        self.answered = False  # a /v1/me/ call was answered in this page: its session was found good


    async def raw(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                  own: bool = False) -> httpx.Response:
        headers = {"X-DSP-Patient": self.acting} if self.acting and not own else {}
        forwarded = self.request.headers.getlist("x-forwarded-for")
        if forwarded:  # with the peer handed on, the API tells the client behind a trusted proxy as for any caller
            headers["X-Forwarded-For"] = ", ".join(forwarded)
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if cookie:
            headers["Cookie"] = cookie
        peer = self.request.client
        reply = await in_process(self.request.app, method, path, params=params, json=json, headers=headers,
                                 host=self.request.headers.get("host", "127.0.0.1"),
                                 peer=(peer.host, peer.port) if peer else ("127.0.0.1", 0))
        if reply.status_code < 400 and path.startswith("/v1/me/"):
            self.answered = True
        for raw in reply.headers.get_list("set-cookie"):
            self.set_cookies.append(raw)
            for name, morsel in SimpleCookie(raw).items():
                if morsel.value and morsel["max-age"] != "0":
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)
        return reply

    async def file(self, method: str, path: str, *, json: Any = None,
                   params: dict[str, Any] | None = None) -> httpx.Response:
        """The answer itself (a file's bytes and headers), or `Problem` for a 4xx/5xx."""
        return _checked(await self.raw(method, path, json=json, params=params))

    async def call(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                   own: bool = False) -> Any:
        """The answer's JSON, or `Problem` for a 4xx/5xx (`own`: as the person logged in, not the DSP acted on)."""
        return _checked(await self.raw(method, path, json=json, params=params, own=own)).json()

    async def get(self, path: str, **params: Any) -> Any:
        return await self.call("GET", path, params={k: v for k, v in params.items() if v not in (None, "")})

    async def post(self, path: str, body: Any = None, own: bool = False) -> Any:
        return await self.call("POST", path, json=body if body is not None else {}, own=own)

    def pass_cookies(self, response: Response) -> Response:
        """The cookies the API set, set on the page's response too."""
        for raw in self.set_cookies:
            response.headers.append("set-cookie", raw)
        return response
