"""Every error of the portal API is one shape: an RFC 9457 problem (`schemas.portal.Problem`,
`application/problem+json`), built by `schemas.portal.problem` — for a route's refusal (`Refusal`), a body or
query that breaks the contract, an unknown route or method, a dependency that does not answer, the edge's own
answers (rate limits, body size, Host) and a bug (500). Nothing the client sent is echoed. The statuses each
route can answer are declared in the OpenAPI document (`errors(...)`), all with the one `Problem` schema."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import httpx
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.portal import PROBLEM_MEDIA_TYPE, Problem, problem
from services.kit.errors import TRANSIENT

from .bus import Unavailable

log = structlog.get_logger("dsp.gateway.problems")
UNAVAILABLE = "a service did not answer in time; try again"
FRAMEWORK = {404: "no such route", 405: "this route does not take that method"}


class Refusal(HTTPException):
    """A route's refusal: `raise Refusal(403, "the reason")`; extension members (next_step, errors, details,
    challenge_required, retry_after_s) as keywords."""

    def __init__(self, status: int, reason: str, *, headers: Mapping[str, str] | None = None,
                 **extensions: Any) -> None:
        super().__init__(status, reason, dict(headers) if headers else None)
        self.problem = problem(status, reason, **extensions)


def response(body: Problem, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), body.status, dict(headers or {}),
                        media_type=PROBLEM_MEDIA_TYPE)


def answer(status: int, reason: str, headers: Mapping[str, str] | None = None, **extensions: Any) -> JSONResponse:
    return response(problem(status, reason, **extensions), headers)


def field_errors(errors: Iterable[Any]) -> list[dict[str, Any]]:
    """pydantic's errors as `ProblemError`s: where and what, never the value sent."""
    out = []
    for e in errors:
        msg, given = str(e.get("msg", "invalid")), e.get("input")
        if e.get("type") == "union_tag_invalid":
            msg = f"unknown {e['ctx']['discriminator']}; expected one of {e['ctx']['expected_tags']}"
        elif isinstance(given, str) and given and given in msg:
            msg = f"invalid value ({e.get('type', 'invalid')})"
        out.append({"loc": [str(p) for p in e.get("loc", ())], "msg": msg})
    return out


def upstream(reply: httpx.Response, service: str, keep: Sequence[int] = (403, 404, 422, 429)) -> Refusal:
    """A dependency's non-success answer as ours: its refusals (`keep`) with its reason, anything else a 503."""
    if reply.status_code not in keep:
        return Refusal(503, f"{service} unavailable; try again")
    try:
        said = reply.json().get("detail")
    except ValueError:
        said = None
    headers = {"Retry-After": "3600"} if reply.status_code == 429 else None  # access: "try again in an hour"
    return Refusal(reply.status_code, said if isinstance(said, str) else "refused", headers=headers)


def install(app: FastAPI) -> None:
    """The handlers that turn every error into a problem, and the `Problem` schema in the OpenAPI document."""

    async def refused(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, HTTPException):
            raise exc
        if isinstance(exc, Refusal):
            return response(exc.problem, exc.headers)
        said = exc.detail if isinstance(exc.detail, str) and exc.detail != HTTPStatus(exc.status_code).phrase \
            else FRAMEWORK.get(exc.status_code, HTTPStatus(exc.status_code).phrase.lower())
        return answer(exc.status_code, said, exc.headers)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, RequestValidationError):
            raise exc
        return answer(422, "invalid request", detail="the request does not follow the API's contract (see errors)",
                      errors=field_errors(exc.errors()))

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        return answer(503, UNAVAILABLE)

    async def bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", error=type(exc).__name__,
                  route=getattr(request.scope.get("route"), "path", "unmatched"))
        return answer(500, "internal error; try again later")

    app.add_exception_handler(HTTPException, refused)
    app.add_exception_handler(RequestValidationError, invalid)
    transient: tuple[type[BaseException], ...] = (Unavailable, *TRANSIENT, httpx.TransportError)
    for kind in transient:
        if issubclass(kind, Exception):  # (all of them: TRANSIENT is typed as BaseExceptions)
            app.add_exception_handler(kind, unavailable)
    app.add_exception_handler(Exception, bug)
    document(app)


def document(app: FastAPI) -> None:
    """Adds `Problem` to the document's components (responses refer to it under application/problem+json)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            _, defs = models_json_schema([(Problem, "serialization")], ref_template="#/components/schemas/{model}")
            schema.setdefault("components", {}).setdefault("schemas", {}).update(defs["$defs"])
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


DESCRIPTIONS = {400: "A refusal (the reason says why), or a Host not allowed", 401: "Not logged in",
                403: "Not allowed (the reason says why)", 404: "Not found", 413: "Request body too large",
                422: "The request breaks the contract (errors[] says where)",
                429: "Too many attempts or requests: wait Retry-After seconds",
                503: "A service did not answer in time; try again"}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "required": True,
                               "schema": {"type": "integer", "minimum": 1}}}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these statuses, each a `Problem`."""
    return {status: {"description": DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
                     "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
                     **({"headers": RETRY_AFTER} if status == 429 else {})} for status in statuses}


class TrustedHosts:
    """starlette's TrustedHostMiddleware (no DNS rebinding), its own 400 answered as a problem: it wraps a marker
    that notes the Host passed, so only a 400 the middleware sends itself is replaced."""

    MARK = "dsp.host_ok"

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        async def passed(scope: Scope, receive: Receive, send: Send) -> None:
            scope[self.MARK] = True
            await app(scope, receive, send)

        self.check = TrustedHostMiddleware(passed, allowed_hosts=allowed_hosts, www_redirect=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.check(scope, receive, send)
            return
        replaced = False

        async def guarded(message: Message) -> None:
            nonlocal replaced
            if not scope.get(self.MARK) and message["type"] == "http.response.start" and message["status"] == 400:
                replaced = True
                await answer(400, "this Host is not served here", kind="invalid-host")(scope, receive, send)
            elif not replaced:
                await send(message)

        await self.check(scope, receive, guarded)
