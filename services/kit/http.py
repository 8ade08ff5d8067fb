"""Bare ASGI JSON endpoints for the workers' small HTTP APIs (no framework on the hot path)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import ValidationError

from .errors import TRANSIENT
from .servicetokens import Refused, Verifier, calling_service

log = structlog.get_logger("dsp.http")
MAX_BODY = 64 * 1024  # also the default of kit.bodylimit.BodyLimit, which serve() puts in front of every worker
Handler = Callable[[bytes], Awaitable[tuple[int, Any]]]  # (status, a JSON-able answer or its JSON bytes)


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in exc.errors(include_input=False,
                                                                                      include_url=False)]


@dataclass(frozen=True)
class Door:
    """Who may knock on a service's internal API: the `Host` names it answers to, and the verifier of the
    callers' service tokens (None: no keys configured, so every call is refused)."""

    hosts: frozenset[str]
    verifier: Verifier | None

    def host_ok(self, scope: dict[str, Any]) -> bool:
        return host_allowed(scope, self.hosts)

    def endpoint(self, handler: Handler, callers: tuple[str, ...]) -> Any:
        """`handler` behind the door: JSON POST only, a known Host, a token of one of `callers`."""
        return endpoint(handler, self, callers)


def host_allowed(scope: dict[str, Any], hosts: frozenset[str]) -> bool:
    """The request's Host (without port) is one this service answers to (no DNS rebinding)."""
    raw = next((v for k, v in scope.get("headers", []) if k == b"host"), b"").decode("latin-1").strip().lower()
    name = raw[1:].partition("]")[0] if raw.startswith("[") else raw.rpartition(":")[0] if raw.count(":") == 1 else raw
    return name in hosts


def _refusal(scope: dict[str, Any], door: Door | None, callers: tuple[str, ...]) -> tuple[int, Any] | None:
    if scope["method"] != "POST":
        return 405, {"detail": "use POST with a JSON body"}
    if door is None:
        return None
    if not door.host_ok(scope):
        return 400, {"detail": "unknown Host"}
    headers = dict(scope.get("headers", []))
    if headers.get(b"content-type", b"").split(b";")[0].strip().lower() != b"application/json":
        return 415, {"detail": "send JSON (Content-Type: application/json)"}
    if door.verifier is None:
        return 401, {"detail": "this service has no service keys configured; nobody may call it"}
    try:
        calling_service.set(door.verifier.caller(headers.get(b"authorization", b"").decode("latin-1"), callers))
    except Refused as exc:
        return exc.status, {"detail": exc.reason}
    return None


def endpoint(handler: Handler, door: Door | None = None, callers: tuple[str, ...] = ()) -> Any:
    """A bare ASGI app for one JSON POST endpoint (no framework on the decision hot path). With a door: the
    caller is checked first (Host 400, content type 415, credential 401, caller 403), before the body is read."""

    async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
                  send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        refused = _refusal(scope, door, callers)
        body, more = b"", refused is None
        while more and len(body) <= MAX_BODY:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        status: int
        payload: Any
        if refused is not None:
            status, payload = refused
        elif len(body) > MAX_BODY:
            status, payload = 413, {"detail": f"body larger than {MAX_BODY} bytes"}
        else:
            try:
                status, payload = await handler(body)
            except ValidationError as exc:
                status, payload = 422, {"detail": "invalid request", "errors": _errors(exc)}
            except TRANSIENT as exc:
                log.warning("dependency unreachable; answered 503", error=type(exc).__name__)
                status, payload = 503, {"detail": "access store unavailable; retry later"}
        data = payload if isinstance(payload, bytes) else json.dumps(payload, default=str).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"cache-control", b"no-store"),
                                (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})

    return app




def hosts_only(app: Any, hosts: frozenset[str]) -> Any:
    """ASGI middleware: a request whose Host is not one of `hosts` gets a 400 (no DNS rebinding to a worker)."""

    async def guarded(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
                      send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        if scope["type"] == "http" and not host_allowed(scope, hosts):
            data = b'{"detail":"unknown Host"}'
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"25")]})
            await send({"type": "http.response.body", "body": data})
            return
        await app(scope, receive, send)

    return guarded
