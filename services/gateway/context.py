"""Who is calling the portal API, and on whose DSP: the gateway's wiring every route reads (`Context`, `ctx`, and its
typed clients, `Context.clients`), the session check (`me`, once per request: `OneSessionCheck`), and the
dependencies that resolve whose DSP a `/v1/me/...` route acts on (`ActingFor`; `ReadingFor` and `ReadingDocument`
for reads of documents) — the person logged in, or, with `X-DSP-Patient`, a patient they assist (access decides;
refused attempts are limited per person)."""

from __future__ import annotations

import hashlib
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any, Literal, NamedTuple

import httpx
from fastapi import Cookie, Depends, Header, Query, Request
from fastapi import Path as PathParam
from starlette.types import ASGIApp, Receive, Scope, Send

from schemas.access import ActorRef, DecisionRequest
from schemas.fields import IDENTIFIER_PATTERN, check_matricule

from . import limits
from .bus import Bus
from .clients import Clients
from .problems import Refusal


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
    prescriber_names: dict[str, tuple[float, str | None]] = field(default_factory=dict)  # `service.naming.named`

    @cached_property
    def clients(self) -> Clients:
        """The typed clients over this gateway's HTTP clients (one per service)."""
        return Clients.over(self.activation, self.access, self.records, self.notify)


def ctx(request: Request) -> Context:
    context: Context = request.app.state.ctx
    return context


_checked: ContextVar[dict[str, str] | None] = ContextVar("dsp_sessions_checked", default=None)


class OneSessionCheck:
    """ASGI middleware: a session is checked once per request from outside — a portal page calls this API
    in-process several times (`services.gateway.web.api`), and each of those calls runs inside the page's request, so
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
    found = await c.clients.activation.session(session)
    if found is None:
        raise Refusal(401, "not logged in (the session is unknown, expired or ended)")
    matricule = found.matricule
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


async def act_for(request: Request, session: str | None, behalf: str | None,
                  action: Literal["read", "manage"] = "manage",
                  document: str | None = None) -> Acting:
    """`acting`, for a given action: "manage" (the settings, the trail), or "read" — an assistant's read of the
    DSP's documents, decided and audited per document like a professional's (`reading_document`). The owner's own
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
    decision = await c.clients.access.decide(DecisionRequest(actor=ActorRef(kind="patient", id=user), action=action,
                                                             patient=behalf, document=document))
    if not decision.allowed:
        if c.refusals is not None:
            await c.refusals.count(user)
        raise Refusal(403, decision.reason)
    return Acting(user, behalf)


ActingFor = Annotated[Acting, Depends(acting)]
DocumentId = Annotated[str, PathParam(max_length=64, pattern=IDENTIFIER_PATTERN)]


async def reading(request: Request, session: Session = None, behalf: Behalf = None) -> Acting:
    """A read of the DSP's documents (a page, a search, the timeline): an assistant's is a `read` decision on the
    DSP, audited on the patient's trail as a professional's is."""
    return await act_for(request, session, behalf, "read")


async def reading_document(document_id: DocumentId, request: Request, session: Session = None,
                           behalf: Behalf = None) -> Acting:
    """A read of one document (its detail, its file): an assistant's is a `read` decision on that document, so the
    patient's 'Traçabilité' shows which document the assistant read."""
    return await act_for(request, session, behalf, "read", document_id)


ReadingFor = Annotated[Acting, Depends(reading)]
ReadingDocument = Annotated[Acting, Depends(reading_document)]
