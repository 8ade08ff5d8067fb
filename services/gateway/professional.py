"""Professional routes: log in with an assertion of the professional identity provider, redeem a patient's
presence password, break the glass, read a patient's documents — every read goes through access's decision,
which audits it. Patients are named in bodies, never in URLs.

The real eHealth identity provider is out of scope: its assertion is modelled as `payload.signature`, payload =
base64url JSON {"sub": professional id, "exp": unix time}, signature = HMAC-SHA256 under a key shared with it
(`DSP_GATEWAY_PRO_IDP_KEY`). The gateway's own session cookie has the same shape under its own key, 30 minutes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, HTTPException, Request, Response
from fastapi.responses import Response as RawResponse
from pydantic import BaseModel, ConfigDict, Field

from schemas.access import AccessCommandV1
from schemas.fields import Matricule
from schemas.topics import ACCESS_COMMANDS

from .patient import Context, _answer, _public, checked, ctx

router = APIRouter(prefix="/v1/pro")
SESSION_S = 1800


def sign(key: bytes, subject: str, expires: int) -> str:
    payload = base64.urlsafe_b64encode(json.dumps({"sub": subject, "exp": expires}).encode()).decode().rstrip("=")
    signature = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{signature}"


def verify(key: bytes, token: str, now: float) -> str | None:
    """The subject of a valid, unexpired token, or None (constant-time signature check)."""
    payload, _, signature = token.partition(".")
    if not payload.isascii() or not re.fullmatch(r"[0-9a-f]{64}", signature):
        return None  # (compare_digest refuses non-ASCII text: schemathesis found that one)
    expected = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
        return None
    return subject


class Assertion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assertion: str = Field(max_length=2048, description="From the professional identity provider")


class PatientBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patient: Matricule
    document_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    q: str | None = Field(default=None, max_length=100, description="Keyword search")


class Redeem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patient: Matricule
    password: str = Field(max_length=32)


class Glass(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patient: Matricule
    justification: str = Field(min_length=15, max_length=500)


def _keys(request: Request) -> tuple[bytes, bytes]:
    keys: tuple[bytes, bytes] | None = request.app.state.pro_keys
    if keys is None:
        raise HTTPException(503, {"reason": "professional login is not configured on this gateway"})
    return keys


def professional(request: Request, dsp_pro: str | None) -> str:
    subject = verify(_keys(request)[1], dsp_pro or "", time.time())
    if subject is None:
        raise HTTPException(401, {"reason": "not logged in as a professional"})
    return subject


ProSession = Annotated[str | None, Cookie()]


@router.post("/login", summary="Log in with the professional identity provider's assertion")
async def login(body: Assertion, request: Request, response: Response) -> dict[str, Any]:
    idp_key, session_key = _keys(request)
    subject = verify(idp_key, body.assertion, time.time())
    if subject is None:
        raise HTTPException(401, {"reason": "the assertion is not valid or has expired"})
    response.set_cookie("dsp_pro", sign(session_key, subject, int(time.time()) + SESSION_S), httponly=True,
                        samesite="strict", secure=ctx(request).secure, max_age=SESSION_S, path="/v1/pro")
    return {"professional_id": subject, "session_s": SESSION_S}


async def _command(c: Context, patient: str, pro: str, command: str, **fields: Any) -> dict[str, Any]:
    body = checked(AccessCommandV1, {"command": command, "command_id": f"gw-{uuid.uuid4()}", "patient": patient,
                                     "actor": {"kind": "professional", "id": pro}, **fields})
    return _answer(await c.bus.command(ACCESS_COMMANDS.name, patient, body))


@router.post("/presence-password", summary="Redeem the patient's presence password: 24 hours of access")
async def redeem(body: Redeem, request: Request, dsp_pro: ProSession = None) -> dict[str, Any]:
    pro = professional(request, dsp_pro)
    return await _command(ctx(request), body.patient, pro, "redeem-presence-password", password=body.password)


@router.post("/break-the-glass", summary="Emergency access, with a justification; the patient is alerted")
async def break_the_glass(body: Glass, request: Request, dsp_pro: ProSession = None) -> dict[str, Any]:
    pro = professional(request, dsp_pro)
    return await _command(ctx(request), body.patient, pro, "break-the-glass", justification=body.justification)


async def _decide(c: Context, pro: str, patient: str, document: str | None) -> None:
    body = {"actor": {"kind": "professional", "id": pro}, "action": "read", "patient": patient}
    if document:
        body["document"] = document
    reply = await c.access.post("/v1/decisions", json=body)
    if reply.status_code != 200:
        raise HTTPException(503, {"reason": "access decisions unavailable; try again"})
    decision = reply.json()
    if not decision["allowed"]:
        raise HTTPException(403, {"reason": decision["reason"]})


@router.post("/documents", summary="A patient's documents (latest, or a keyword search), if access allows")
async def documents(body: PatientBody, request: Request, dsp_pro: ProSession = None) -> list[dict[str, Any]]:
    c, pro = ctx(request), professional(request, dsp_pro)
    await _decide(c, pro, body.patient, None)
    found = await (c.documents.search(body.patient, body.q, viewer="professional") if body.q
                   else c.documents.latest(body.patient, viewer="professional"))
    return [_public(d) for d in found]


@router.post("/documents/file", summary="One document's file, if access allows (audited)")
async def document_file(body: PatientBody, request: Request, dsp_pro: ProSession = None) -> RawResponse:
    c, pro = ctx(request), professional(request, dsp_pro)
    if not body.document_id:
        raise HTTPException(422, {"reason": "document_id is required"})
    await _decide(c, pro, body.patient, body.document_id)
    found = await c.documents.file(body.patient, body.document_id, viewer="professional")
    if found is None:
        raise HTTPException(404, {"reason": "no such document file in this DSP"})
    return RawResponse(found[1], media_type=found[0])


@router.get("/patients", summary="The patients whose DSP this professional may read now, and by which grant")
async def my_patients(request: Request, dsp_pro: ProSession = None) -> Any:
    c, pro = ctx(request), professional(request, dsp_pro)
    reply = await c.access.post("/v1/patients-of", json={"professional_id": pro})
    if reply.status_code >= 500:
        raise HTTPException(503, {"reason": "access unavailable; try again"})
    if reply.status_code != 200:
        raise HTTPException(reply.status_code, {"reason": reply.json().get("detail", "refused")})
    return reply.json()
