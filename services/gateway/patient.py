"""Patient routes: access management, the presence password, the audit trail, the DSPs one assists and the
assistant lookup — and the one dependency (`acting`) that resolves whose DSP every `/v1/me/...` route acts on: the
person logged in, or — with `X-DSP-Patient` — a patient they assist (access decides). Refusals are problems with
the service's reason. Reads go to access's API (and records' for the documents' titles in the audit trail)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, NamedTuple

import httpx
from fastapi import APIRouter, Body, Cookie, Depends, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.access import AccessCommandV1
from schemas.fields import check_matricule
from schemas.portal_access import (
    AccessState,
    AssistedPage,
    AuditEntry,
    AuditPage,
    CommandResult,
    PatientAccessCommand,
    Person,
    PersonLookup,
    PresencePassword,
)
from schemas.topics import ACCESS_COMMANDS

from .bus import Bus
from .calls import read
from .problems import Refusal, errors, field_errors, upstream

router = APIRouter(prefix="/v1", tags=["patient"], responses=errors(400, 401, 403, 413, 422, 429, 503))


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


def ctx(request: Request) -> Context:
    context: Context = request.app.state.ctx
    return context


def _answer(outcome: dict[str, Any]) -> CommandResult:
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


async def me(c: Context, session: str | None) -> str:
    if not session:
        raise Refusal(401, "not logged in")
    reply = await c.activation.post("/v1/sessions/check", json={"session_token": session})
    if reply.status_code >= 500:
        raise Refusal(503, "activation unavailable; try again")
    if reply.status_code != 200:  # 401, or 422 for a token that cannot be one
        raise Refusal(401, "not logged in (the session is unknown, expired or ended)")
    matricule: str = reply.json()["matricule"]
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
    reply = await c.access.post("/v1/decisions", json={"actor": {"kind": "patient", "id": user}, "action": "manage",
                                                       "patient": behalf})
    if reply.status_code != 200:
        raise Refusal(503, "access decisions unavailable; try again")
    if not reply.json()["allowed"]:
        if c.refusals is not None:
            await c.refusals.count(user)
        raise Refusal(403, reply.json()["reason"])
    return Acting(user, behalf)


ActingFor = Annotated[Acting, Depends(acting)]


@router.post("/me/access/commands", summary="Manage access: circle, GP, emergency, blocks, assistants, consents")
async def access_command(body: Annotated[PatientAccessCommand, Body()], request: Request,
                         who: ActingFor) -> CommandResult:
    """One of the patient's access commands (`command` tells which); the gateway adds its id, the patient and
    the actor, checks it against access's contract and waits for its outcome."""
    c = ctx(request)
    command = checked(AccessCommandV1, {**body.model_dump(mode="json", exclude_none=True),
                                        "command_id": f"gw-{uuid.uuid4()}", "patient": who.patient,
                                        "actor": {"kind": "patient", "id": who.user}})
    return _answer(await c.bus.command(ACCESS_COMMANDS.name, who.patient, command))


class PresenceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    letter: bool = Field(default=False, description="Also send it by letter")


@router.post("/me/presence-password", summary="A new presence password, shown once (the old one stops working)")
async def presence_password(body: PresenceBody, request: Request, who: ActingFor) -> PresencePassword:
    """access generates it and keeps only its hash; it reaches this answer over HTTP, never Kafka."""
    c, command_id = ctx(request), f"gw-{uuid.uuid4()}"
    async with c.bus.expecting(command_id) as outcome:
        reply = await c.access.post("/v1/presence/generate", json={
            "command_id": command_id, "patient": who.patient, "actor": {"kind": "patient", "id": who.user},
            "delivery": "letter" if body.letter else "none"})
        if reply.status_code != 202:
            raise upstream(reply, "access", keep=(403, 429))
        answer = _answer(await c.bus.outcome(outcome))
    return PresencePassword(**answer.model_dump(), presence_password=reply.json()["presence_password"])


@router.get("/me/access", summary="Who has access, blocked professionals, assistants, consents (named)",
            response_model=AccessState)
async def access_state(request: Request, who: ActingFor) -> Any:
    return await read(ctx(request).access, "access", "/v1/access-state", _reader(who), keep=(403,))


@router.get("/me/audit", summary="Who accessed what, and when ('Traçabilité', newest first, cursor-paged)",
            response_model=AuditPage)
async def audit(request: Request, who: ActingFor, cursor: Cursor = None,
                limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Any:
    c = ctx(request)
    page = await read(c.access, "access", "/v1/audit", {**_reader(who), "limit": limit, "cursor": cursor},
                      keep=(403, 422))
    ids = sorted({e["document_id"] for e in page["items"] if e.get("document_id")})
    titles = (await read(c.records, "records", "/v1/documents/titles", {"patient": who.patient, "ids": ids},
                         keep=()))["titles"] if ids else {}
    return AuditPage(items=[AuditEntry(**e, document_title=titles.get(e.get("document_id") or ""))
                            for e in page["items"]], next_cursor=page["next_cursor"])


@router.get("/me/assisted", summary="The DSPs I assist, named ('Accéder aux autres dossiers patient')",
            response_model=AssistedPage)
async def assisted(request: Request, who: ActingFor, cursor: Cursor = None,
                   limit: Annotated[int, Query(ge=1, le=100)] = 50) -> Any:
    """The person logged in's (whatever X-DSP-Patient says): send one's `patient` as X-DSP-Patient to act on it."""
    return await read(ctx(request).access, "access", "/v1/assisted", {"user": who.user, "cursor": cursor,
                                                                         "limit": limit}, keep=(422,))


@router.post("/me/assistants/lookup", summary="Who a matricule is, before adding them as DSP assistant",
             response_model=Person, responses=errors(404))
async def lookup(body: PersonLookup, request: Request, who: ActingFor) -> Any:
    """'Numéro assuré' → the person's name → confirm with the `add-assistant` access command. Only a registered
    adult is found (anyone else: the same 404); lookups are limited per person."""
    c = ctx(request)
    if c.lookups is not None:
        if await c.lookups.exceeded(who.user):
            raise Refusal(429, "too many lookups; wait a few minutes", headers={"Retry-After": "600"},
                          retry_after_s=600)
        await c.lookups.count(who.user)
    return await read(c.access, "access", "/v1/persons/lookup", {
        "actor": {"kind": "patient", "id": who.user}, "matricule": body.matricule}, keep=(403, 404), where="body")


def _reader(who: Acting) -> dict[str, Any]:
    return {"actor": {"kind": "patient", "id": who.user}, "patient": who.patient}
