"""The patient's access management, on the DSP `context.acting` resolved: her access commands (circle, GP,
emergency, blocks, assistants, consents), a new presence password, and who has access (named). Refusals are
problems with access's reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field

from schemas.access import AccessStateV1
from schemas.portal_access import AccessState, CommandResult, PatientAccessCommand, PresencePassword

from ..context import ActingFor, ctx
from ..problems import errors
from ..service import presence
from ..service.audit import reader
from ..service.commands import access_command as send

router = APIRouter(prefix="/v1", tags=["patient"], responses=errors(400, 401, 403, 413, 422, 429, 503))


@router.post("/me/access/commands", summary="Manage access: circle, GP, emergency, blocks, assistants, consents")
async def access_command(body: Annotated[PatientAccessCommand, Body()], request: Request,
                         who: ActingFor) -> CommandResult:
    """One of the patient's access commands (`command` tells which); the gateway adds its id, the patient and
    the actor, checks it against access's contract and waits for its outcome."""
    return await send(ctx(request), who.patient, {"kind": "patient", "id": who.user},
                      body.model_dump(mode="json", exclude_none=True))


class PresenceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    letter: bool = Field(default=False, description="Also send it by letter")


@router.post("/me/presence-password", summary="A new presence password, shown once (the old one stops working)")
async def presence_password(body: PresenceBody, request: Request, who: ActingFor) -> PresencePassword:
    """access generates it and keeps only its hash; it reaches this answer over HTTP, never Kafka."""
    return await presence.generate(ctx(request), who, body.letter)


@router.get("/me/access", summary="Who has access, blocked professionals, assistants, consents (named)",
            response_model=AccessState)
async def access_state(request: Request, who: ActingFor) -> AccessStateV1:
    return await ctx(request).clients.access.state(reader(who))
