"""A request-body size limit for every HTTP service, as pure ASGI middleware: a 413 before the app parses anything.

A declared `Content-Length` above the limit is answered at once (the app is never called, the body never read);
a body without one (chunked) is counted as it arrives and refused as soon as it grows past the limit — whatever
the app was doing with it is dropped and the client gets the 413. Limits are per path prefix (the longest
matching prefix wins, optionally for one method only), 64 KiB of JSON by default. The 413 is an RFC 9457
problem (`schemas.portal.problem`, `application/problem+json`), as every error of the portal API.

After the 413 is sent, the rest of the body is read and thrown away for a moment (at most `linger_s` seconds and
`linger_bytes`, memory constant) before the connection closes: closing a socket with unread data makes the
kernel send a reset, which can destroy the 413 before the client has read it (RFC 9112 §9.6, "lingering close").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from schemas.portal import PROBLEM_MEDIA_TYPE, problem

from .http import MAX_BODY

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Rule = tuple[str | None, str, int]  # (method or None for any, path prefix, limit in bytes)


class _TooLarge(Exception):
    """Raised into the app from `receive` once the body has grown past the limit."""


class BodyLimit:
    def __init__(self, app: ASGIApp, default: int = MAX_BODY, rules: Iterable[Rule] = (), linger_s: float = 2.0,
                 linger_bytes: int = 8 * 1024 * 1024) -> None:
        self.app, self.default, self.linger_s, self.linger_bytes = app, default, linger_s, linger_bytes
        self.rules = sorted(rules, key=lambda r: len(r[1]), reverse=True)  # longest prefix first

    def limit_for(self, method: str, path: str) -> int:
        for rule_method, prefix, limit in self.rules:
            if (rule_method is None or rule_method == method) and path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("method", ""), scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(receive, send, limit, linger=not _expects_continue(scope))
            return
        received, exceeded, started = 0, False, False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _TooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # the app's answer to a body it never fully got (a 400 from a framework) is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await self._refuse(receive, send, limit)

    async def _refuse(self, receive: Receive, send: Send, limit: int, linger: bool = True) -> None:
        body = problem(413, f"request body larger than {limit} bytes").model_dump_json(exclude_none=True).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                                (b"content-length", str(len(body)).encode()),
                                (b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body, "more_body": True})  # the client has it all now
        if linger:  # (not if the client waits for "100 Continue": asking for the body would invite it)
            await self._linger(receive)
        await send({"type": "http.response.body", "body": b""})

    async def _linger(self, receive: Receive) -> None:
        loop, drained = asyncio.get_running_loop(), 0
        deadline = loop.time() + self.linger_s
        while drained < self.linger_bytes and loop.time() < deadline:
            try:
                message = await asyncio.wait_for(receive(), deadline - loop.time())
            except TimeoutError:
                return
            if message["type"] != "http.request":
                return
            drained += len(message.get("body", b""))
            if not message.get("more_body", False):
                return


def _expects_continue(scope: Scope) -> bool:
    return any(name == b"expect" and value.lower() == b"100-continue" for name, value in scope.get("headers", ()))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None  # malformed: the server refuses it, not us
    return None
