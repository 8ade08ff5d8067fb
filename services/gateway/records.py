"""More patient routes: the timeline, uploads, blocking documents, the notification list — and acting for another
patient as their DSP assistant (header `X-DSP-Patient`, never the URL; access decides)."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.portal import Accepted, DocumentSummary, Notification, ProfessionalEntry
from schemas.records import RecordsCommandV1
from schemas.topics import RECORDS_COMMANDS

from . import uploads
from .patient import ActingFor, Context, Session, _public, checked, ctx, me
from .problems import Refusal, errors

router = APIRouter(prefix="/v1/me", tags=["patient"], responses=errors(400, 401, 403, 413, 422, 429, 503))


class Upload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    content_type: Literal["application/pdf", "image/jpeg", "image/png"]
    data_base64: str = Field(max_length=7_000_000)  # base64 of uploads.MAX_BYTES (5 MiB)
    document_date: AwareDatetime | None = None


@router.get("/timeline", summary="The timeline ('Ligne de vie') between two dates")
async def timeline(request: Request, start: AwareDatetime, end: AwareDatetime,
                   who: ActingFor) -> list[DocumentSummary]:
    return [_public(d) for d in await ctx(request).documents.timeline(who.patient, start, end)]


@router.post("/documents", status_code=202, summary="Deposit a document (PDF, JPEG or PNG, up to 5 MiB)")
async def upload(body: Upload, request: Request, who: ActingFor) -> Accepted:
    c, (user, patient) = ctx(request), who
    try:
        data = base64.b64decode(body.data_base64, validate=True)
    except binascii.Error:
        raise Refusal(422, "data_base64 is not valid base64") from None
    try:
        await uploads.check_async(body.content_type, data)  # parsed whole: a polyglot or a damaged file is refused
    except uploads.Refused as exc:
        raise Refusal(exc.status, exc.reason) from None
    command_id = f"gw-{uuid.uuid4()}"
    await _send(c, patient, {"command": "upload-document", "command_id": command_id, "patient_matricule": patient,
                             "uploaded_by": user, **body.model_dump(mode="json", exclude_none=True)})
    return Accepted(document_id=uploads.upload_id(command_id), status="accepted", command_id=command_id)


@router.post("/documents/{document_id}/{action}", status_code=202, responses=errors(404),
             summary="Hide a document from professionals, or show it again")
async def block(document_id: Annotated[str, PathParam(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")],
                action: Literal["block", "unblock"], request: Request, who: ActingFor) -> Accepted:
    c, (user, patient) = ctx(request), who
    if await c.documents.get(patient, document_id) is None:
        raise Refusal(404, "no such document in this DSP")
    command_id = f"gw-{uuid.uuid4()}"
    await _send(c, patient, {"command": f"{action}-document", "command_id": command_id,
                             "patient_matricule": patient, "requested_by": user, "document_id": document_id})
    return Accepted(document_id=document_id, status="accepted", command_id=command_id)


@router.get("/notifications", summary="The notification list, newest first")
async def notifications(request: Request, who: ActingFor,
                        limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[Notification]:
    c, patient = ctx(request), who.patient
    cursor = c.notifications.find({"recipient": patient, "channel": "inapp", "status": "delivered"},
                                  {"subject": 1, "body": 1, "received_at": 1, "read": 1, "template_id": 1})
    oldest = datetime.min.replace(tzinfo=UTC)
    found = sorted([n async for n in cursor], key=lambda n: n.get("received_at") or oldest, reverse=True)
    return [Notification(id=str(n["_id"]), template=n.get("template_id"), subject=n.get("subject"), body=n.get("body"),
                         at=n.get("received_at"), read=bool(n.get("read", False))) for n in found[:limit]]


async def _send(c: Context, patient: str, body: dict[str, Any]) -> None:
    checked(RecordsCommandV1, body)
    await c.bus.send(RECORDS_COMMANDS.name, patient, body)


search_router = APIRouter(prefix="/v1", tags=["patient"], responses=errors(400, 401, 413, 422, 429, 503))


@search_router.get("/professionals", summary="Find a professional to add to the trusted circle (name prefix)")
async def professionals(request: Request, q: Annotated[str, Query(min_length=2, max_length=60)],
                        session: Session = None) -> list[ProfessionalEntry]:
    c = ctx(request)
    await me(c, session)
    pattern = {"$regex": f"^{re.escape(q.strip())}", "$options": "i"}
    cursor = c.directory.find({"$or": [{"family_name": pattern}, {"given_name": pattern}], "active": {"$ne": False}},
                              {"given_name": 1, "family_name": 1, "profession": 1, "specialty": 1, "practice_id": 1})
    found = [p async for p in cursor]
    return [ProfessionalEntry(professional_id=p["_id"], **{k: p.get(k) for k in (
                "given_name", "family_name", "profession", "specialty", "practice_id")})
            for p in sorted(found, key=lambda p: (p.get("family_name", ""), p.get("given_name", "")))[:50]]
