"""The gateway's calls to the services' internal read APIs (POST + JSON with a service token, one
`httpx.AsyncClient` per service, made in app.py's lifespan). Each service is the only door to its own data: the
gateway never opens another service's database.

A refusal the service explains (`keep`: 403, 404, 422 by default) becomes the portal's problem with the service's
reason (a malformed cursor's `errors[]` kept); anything else is a 503, as is a service that does not answer
(`problems.install` turns `httpx.TransportError` into one)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from .problems import Refusal, upstream


async def read(client: httpx.AsyncClient, service: str, path: str, body: dict[str, Any],
               keep: Sequence[int] = (403, 404, 422), where: str = "query") -> Any:
    """`service`'s answer to `POST path` with `body` (None values left out), or a Refusal (the fields of a 422
    located under `where`: query or body, as the portal's client sent them)."""
    reply = await client.post(path, json={k: v for k, v in body.items() if v is not None})
    if reply.status_code == 200:
        return reply.json()
    if reply.status_code == 422 and 422 in keep:
        raise Refusal(422, "invalid request", errors=_errors(reply, where))
    raise upstream(reply, service, keep)


def _errors(reply: httpx.Response, where: str) -> list[dict[str, Any]] | None:
    """The fields a service named in its 422 (e.g. a cursor it did not give out), where the client sent them."""
    try:
        found = reply.json().get("errors")
    except (ValueError, AttributeError):
        return None
    if not isinstance(found, list):
        return None
    out = [{"loc": [where, *(str(p) for p in e.get("loc", []))], "msg": str(e.get("msg", "invalid"))}
           for e in found if isinstance(e, dict)]
    return out or None
