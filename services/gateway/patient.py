"""Patient routes: access management, the presence password, the audit trail (and its signed download, with the
public key that checks it), the DSPs one assists and the assistant lookup, each acting on the DSP `context.acting`
resolved. Refusals are problems with the service's reason. Reads go to access's API (and records' for the documents'
titles in the audit trail)."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from schemas.access import AccessCommandV1
from schemas.audit import AuditExportV1, Jwks
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

from .calls import read
from .context import Acting, ActingFor, Cursor, answer, checked, ctx
from .problems import Refusal, errors, upstream

router = APIRouter(prefix="/v1", tags=["patient"], responses=errors(400, 401, 403, 413, 422, 429, 503))


@router.post("/me/access/commands", summary="Manage access: circle, GP, emergency, blocks, assistants, consents")
async def access_command(body: Annotated[PatientAccessCommand, Body()], request: Request,
                         who: ActingFor) -> CommandResult:
    """One of the patient's access commands (`command` tells which); the gateway adds its id, the patient and
    the actor, checks it against access's contract and waits for its outcome."""
    c = ctx(request)
    command = checked(AccessCommandV1, {**body.model_dump(mode="json", exclude_none=True),
                                        "command_id": f"gw-{uuid.uuid4()}", "patient": who.patient,
                                        "actor": {"kind": "patient", "id": who.user}})
    return answer(await c.bus.command(ACCESS_COMMANDS.name, who.patient, command))


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
        result = answer(await c.bus.outcome(outcome))
    return PresencePassword(**result.model_dump(), presence_password=reply.json()["presence_password"])


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


@router.get("/me/audit/export", summary="Download the whole audit trail, signed by access (a JSON file)",
            response_class=Response, responses={200: {
                "model": AuditExportV1, "description": "Every entry in order, the chain's head and access's latest "
                "checkpoint, signed by access (a detached JWS over the canonical JSON; check it with the key at "
                "/v1/audit/public-key, e.g. python -m services.access.verify_export), as a download"}})
async def audit_export(request: Request, who: ActingFor) -> Response:
    """'Télécharger mon journal signé': access's signed document, passed on as access made it."""
    reply = await ctx(request).access.post("/v1/audit/export", json=_reader(who))
    if reply.status_code != 200:
        raise upstream(reply, "access", keep=(403,))
    return Response(reply.content, media_type="application/json", headers={
        "Content-Disposition": 'attachment; filename="dsp-audit-trail.json"', "X-Content-Type-Options": "nosniff"})


public_router = APIRouter(prefix="/v1", tags=["audit"], responses=errors(400, 413, 429, 503))
KEYS_FOR_S = 300.0  # access's public key changes only with a new key: asked again every 5 minutes


@public_router.get("/audit/public-key", summary="The public key that checks access's signatures on audit trails "
                   "(a JWKS)", response_model=Jwks)
async def audit_public_key(request: Request) -> Any:
    """Anyone may fetch it (no session): what a patient, or anyone she gives her download to, checks it with."""
    cached: tuple[float, Any] | None = getattr(request.app.state, "audit_jwks", None)
    now = time.monotonic()
    if cached is None or now - cached[0] > KEYS_FOR_S:
        cached = (now, await read(ctx(request).access, "access", "/v1/audit/keys", {}, keep=()))
        request.app.state.audit_jwks = cached
    return cached[1]


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
