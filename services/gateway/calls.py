"""The gateway's calls to the services' internal read APIs (POST + JSON with a service token, one
`httpx.AsyncClient` per service, made in app.py's lifespan): the transport under the typed clients (`clients/`,
one per service: a `schemas.*` request in, the service's `schemas.*` answer out). Each service is the only door to
its own data: the gateway never opens another service's database.

A refusal the service explains (`keep`: 403, 404, 422 by default) becomes the portal's problem with the service's
reason (a malformed cursor's `errors[]` kept); anything else is a 503, as is a service that does not answer
(`problems.install` turns `httpx.TransportError` into one)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import httpx
import structlog
from pydantic import BaseModel, ValidationError

from .problems import Refusal, upstream

log = structlog.get_logger("dsp.gateway.calls")


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


Q = TypeVar("Q", bound=BaseModel)
M = TypeVar("M", bound=BaseModel)


def query(model: type[Q], where: str | None = "query", **fields: Any) -> Q:
    """A service's request contract (`schemas.*`) built from what a route decoded. What the service would refuse is
    refused here, as the service says it (a 422, its fields located under `where`: query or body; None: as the
    service names them), before anything is sent."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        prefix = [where] if where else []
        raise Refusal(422, "invalid request", errors=[
            {"loc": [*prefix, *(str(p) for p in e["loc"])], "msg": e["msg"]}
            for e in exc.errors(include_input=False, include_url=False)]) from None


async def ask(client: httpx.AsyncClient, service: str, path: str, body: BaseModel, answer: type[M],
              keep: Sequence[int] = (403, 404, 422), where: str = "query") -> M:
    """`read` with a request contract in and `answer`, the service's answer contract, out. An answer that breaks
    its contract is the service's failure: a 503, as a service that does not answer."""
    return parsed(answer, await read(client, service, path, body.model_dump(mode="json", exclude_none=True),
                                     keep, where), service)


def parsed(model: type[M], found: Any, service: str) -> M:
    """`found` (a service's JSON answer) as its contract `model`; an answer that breaks it is a 503."""
    try:
        return model.model_validate(found)
    except ValidationError as exc:
        log.error("a service's answer broke its contract", service=service, model=model.__name__,
                  errors=len(exc.errors()))
        raise Refusal(503, f"{service} unavailable; try again") from None
