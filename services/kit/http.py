"""Bare ASGI JSON endpoints for the workers' small HTTP APIs (no framework on the hot path)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from pydantic import ValidationError

from .errors import TRANSIENT

log = structlog.get_logger("dsp.http")
MAX_BODY = 64 * 1024
Handler = Callable[[bytes], Awaitable[tuple[int, Any]]]


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in exc.errors(include_input=False,
                                                                                      include_url=False)]


def endpoint(handler: Handler) -> Any:
    """A bare ASGI app for one JSON POST endpoint (no framework on the decision hot path)."""

    async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
                  send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        body, more = b"", True
        while more and len(body) <= MAX_BODY:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        status: int
        payload: Any
        if scope["method"] != "POST":
            status, payload = 405, {"detail": "use POST with a JSON body"}
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
        data = json.dumps(payload, default=str).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"cache-control", b"no-store"),
                                (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})

    return app


