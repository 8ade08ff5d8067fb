"""The console's outer door, as pure ASGI middleware (server-sent events stream through it untouched):

- a `Host` allow-list: a request naming another host is answered 400 before the app sees it (DNS rebinding: a page
  on evil.example that resolves to 127.0.0.1 still sends `Host: evil.example`);
- security headers on every response, errors included: a Content-Security-Policy without 'unsafe-inline' or
  'unsafe-eval' (scripts, styles and Plotly are files served by the console itself), no framing, no sniffing, no
  referrer; `Cache-Control: no-store` for pages and the API (static files: `no-cache`, i.e. revalidated), and
  HSTS when the console sits behind TLS."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "content-security-policy": CSP, "x-frame-options": "DENY", "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer", "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin", "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
HSTS = "max-age=31536000; includeSubDomains"


def allowed_hosts(setting: str, port: int) -> frozenset[str]:
    """`host` or `host:port` entries, comma-separated; a bare host is allowed alone (a proxy on the scheme's
    default port) and with the console's own port. IPv6 literals in brackets: `[::1]`, `[::1]:8105`."""
    hosts: set[str] = set()
    for raw in setting.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        bracketed = entry.startswith("[")
        if (bracketed and "]" not in entry) or (not bracketed and entry.count(":") > 1):
            raise ValueError(f"not a host or host:port: {entry!r} (IPv6 literals go in brackets)")
        has_port = "]:" in entry if bracketed else ":" in entry
        if has_port:
            name, _, number = entry.rpartition(":")
            if not number.isdigit() or not name:
                raise ValueError(f"not a host or host:port: {entry!r}")
            hosts.add(entry)
        else:
            hosts.update({entry, f"{entry}:{port}"})
    if not hosts:
        raise ValueError("no host allowed: the console would answer nothing")
    return frozenset(hosts)


class Guard:
    def __init__(self, app: ASGIApp, hosts: frozenset[str], hsts: bool = False) -> None:
        self.app, self.hosts = app, hosts
        self.extra = [(k.encode(), v.encode()) for k, v in (HEADERS | ({"strict-transport-security": HSTS}
                                                                         if hsts else {})).items()]

    def _host(self, scope: Scope) -> str:
        for name, value in scope.get("headers", ()):
            if name == b"host":
                return str(value.decode("latin-1").strip().lower())
        return ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cache = b"no-cache" if scope.get("path", "").startswith("/static/") else b"no-store"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k for k, _ in self.extra} | {b"cache-control"}
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = [*headers, *self.extra, (b"cache-control", cache)]
            await send(message)

        if self._host(scope) not in self.hosts:
            body = b'{"detail":"unknown host"}'
            await with_headers({"type": "http.response.start", "status": 400,
                                "headers": [(b"content-type", b"application/json"),
                                            (b"content-length", str(len(body)).encode())]})
            await with_headers({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, with_headers)
