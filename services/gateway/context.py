"""Who is calling the portal API, and on whose DSP: the gateway's wiring every route reads (`Context`, `ctx`), the
session check (`me`), and the one dependency (`acting`) that resolves whose DSP every `/v1/me/...` route acts on —
the person logged in, or, with `X-DSP-Patient`, a patient they assist (access decides; refused attempts are
limited per person). With the helpers routes share: a command's outcome as an answer, a command checked against
its contract before it is sent."""

from __future__ import annotations

import hashlib
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Annotated, Any, NamedTuple

import httpx
from fastapi import Cookie, Depends, Header, Query, Request
from pydantic import BaseModel, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from schemas.fields import check_matricule
from schemas.portal_access import CommandResult

from . import limits
from .bus import Bus
from .problems import Refusal, field_errors


class RefusalLimit:
    """Counts attempts per person (refused 'act for' attempts, assistant lookups), shared by the gateway's
    replicas (a `limits` limiter)."""

    def __init__(self, limiter: Any = None, item: Any = None) -> None:
        self.limiter, self.item = limiter, item

    @staticmethod
    def _key(user: str) -> str:
        return hashlib.sha256(f"act-for|{user}".encode()).hexdigest()

    async def exceeded(self, user: str) -> bool:
        return self.limiter is not None and not await self.limiter.test(self.item, self._key(user))

    async def count(self, user: str) -> None:
        if self.limiter is not None:
            await self.limiter.hit(self.item, self._key(user))


@dataclass
class Context:
    bus: Bus
    activation: httpx.AsyncClient
    access: httpx.AsyncClient
    records: httpx.AsyncClient
    notify: httpx.AsyncClient
    secure: bool
    refusals: RefusalLimit | None = None  # refused "act for" attempts, per person
    lookups: RefusalLimit | None = None  # assistant lookups (a matricule is easy to guess), per person
    prescriber_names: dict[str, tuple[float, str | None]] = field(default_factory=dict)  # `prescribers.named`


def ctx(request: Request) -> Context:
    context: Context = request.app.state.ctx
    return context


def answer(outcome: dict[str, Any]) -> CommandResult:
    """An access command's outcome: a refusal is a 400 with the reason."""
    if not outcome["accepted"]:
        raise Refusal(400, outcome["reason"], next_step=outcome.get("next_step"))
    return CommandResult(reason=outcome["reason"], next_step=outcome.get("next_step"),
                         details=outcome.get("details") or {})


def checked(model: type[BaseModel], body: dict[str, Any]) -> dict[str, Any]:
    """A command the service would dead-letter is refused here, with the contract's reasons (a 422, not a wait)."""
    try:
        model.model_validate(body)
    except ValidationError as exc:
        raise Refusal(422, "invalid request", errors=field_errors(exc.errors(include_input=True))) from None
    return body


_checked: ContextVar[dict[str, str] | None] = ContextVar("dsp_sessions_checked", default=None)


class OneSessionCheck:
    """ASGI middleware: a session is checked once per request from outside — a portal page calls this API
    in-process several times (`services.portal.api`), and each of those calls runs inside the page's request, so
    they share its checks, and its one hit on the session's rate limit (`limits.counted`). Nothing outlives the
    outer request: the next page asks activation again, and is counted again."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _checked.get() is not None:  # an in-process call within a page: shared
            await self.app(scope, receive, send)
            return
        token, tally = _checked.set({}), limits.counted.set({})
        try:
            await self.app(scope, receive, send)
        finally:
            limits.counted.reset(tally)
            _checked.reset(token)


async def me(c: Context, session: str | None) -> str:
    if not session:
        raise Refusal(401, "not logged in")
    checked = _checked.get()
    if checked is not None and session in checked:
        return checked[session]
    reply = await c.activation.post("/v1/sessions/check", json={"session_token": session})
    if reply.status_code >= 500:
        raise Refusal(503, "activation unavailable; try again")
    if reply.status_code != 200:  # 401, or 422 for a token that cannot be one
        raise Refusal(401, "not logged in (the session is unknown, expired or ended)")
    matricule: str = reply.json()["matricule"]
    if checked is not None:
        checked[session] = matricule
    return matricule


Session = Annotated[str | None, Cookie(alias="dsp_session", max_length=128)]
Behalf = Annotated[str | None, Header(alias="X-DSP-Patient", max_length=13)]
Cursor = Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page")]


class Acting(NamedTuple):
    user: str  # the person logged in
    patient: str  # whose DSP they act on: themselves, or a patient they assist


async def acting(request: Request, session: Session = None, behalf: Behalf = None) -> Acting:
    """The one place every `/v1/me/...` route learns whose DSP it acts on (access decides for an assistant;
    refused attempts are audited on the target's trail, so they are limited per person)."""
    return await act_for(request, session, behalf)


async def act_for(request: Request, session: str | None, behalf: str | None, action: str = "manage",
                  document: str | None = None) -> Acting:
    """`acting`, for a given action: "manage" (the settings, the trail), or "read" — an assistant's read of the
    DSP's documents, decided and audited per document like a professional's (`records.reading`). The owner's own
    reads of her own DSP are not audited (no decision is asked)."""
    c = ctx(request)
    user = await me(c, session)
    if not behalf or behalf == user:
        return Acting(user, user)
    try:
        check_matricule(behalf)
    except ValueError:
        raise Refusal(422, "X-DSP-Patient is not a valid matricule") from None
    if c.refusals is not None and await c.refusals.exceeded(user):
        raise Refusal(429, "too many refused attempts to act for another patient; wait a few minutes",
                      headers={"Retry-After": "600"}, retry_after_s=600)
    asked: dict[str, Any] = {"actor": {"kind": "patient", "id": user}, "action": action, "patient": behalf}
    if document is not None:
        asked["document"] = document
    reply = await c.access.post("/v1/decisions", json=asked)
    if reply.status_code != 200:
        raise Refusal(503, "access decisions unavailable; try again")
    if not reply.json()["allowed"]:
        if c.refusals is not None:
            await c.refusals.count(user)
        raise Refusal(403, reply.json()["reason"])
    return Acting(user, behalf)


ActingFor = Annotated[Acting, Depends(acting)]
