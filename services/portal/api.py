"""The portal's only way to the DSP: the portal API (`/v1/...`) called in-process (ASGI), as a browser would.

Each page request makes an `Api` holding the browser's own cookies (the API's opaque session, flow, login, device
and professional cookies): the API decides everything — who is logged in, what may be read, every limit — exactly as
for a JSON client, and the cookies it sets are passed back to the browser. The TCP peer and any `X-Forwarded-For`
are handed on, so the API's per-client limits (and activation's delay after failed logins) count the person, not
the portal, behind a trusted reverse proxy too. No database, no other service's module."""

from __future__ import annotations

from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

import httpx
from fastapi import Request, Response

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


class Api:
    """One page request's client to the portal API (`acting`: the matricule of a DSP the person assists)."""

    def __init__(self, request: Request, acting: str | None = None) -> None:
        self.request, self.acting = request, acting
        self.cookies = {k: v for k in API_COOKIES if (v := request.cookies.get(k))}
        self.set_cookies: list[str] = []

    def _client(self) -> httpx.AsyncClient:
        peer = self.request.client
        transport = httpx.ASGITransport(app=self.request.app, client=(peer.host, peer.port) if peer else
                                        ("127.0.0.1", 0))
        host = self.request.headers.get("host", "127.0.0.1")
        return httpx.AsyncClient(transport=transport, base_url=f"http://{host}", timeout=30)

    async def raw(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                  own: bool = False) -> httpx.Response:
        headers = {"X-DSP-Patient": self.acting} if self.acting and not own else {}
        forwarded = self.request.headers.getlist("x-forwarded-for")
        if forwarded:  # with the peer handed on, the API tells the client behind a trusted proxy as for any caller
            headers["X-Forwarded-For"] = ", ".join(forwarded)
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if cookie:
            headers["Cookie"] = cookie
        async with self._client() as client:
            reply = await client.request(method, path, json=json, params=params, headers=headers)
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
