"""Patient routes: activation steps, login, documents, access management, the audit trail.

Browser secrets live in HttpOnly, SameSite=Strict cookies; no personal data in URLs. Every refusal is a 4xx
with the service's reason."""

from __future__ import annotations

import base64
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, Cookie, Header, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError

from schemas.access import AccessCommandV1
from schemas.activation import ActivationCommandV1
from schemas.fields import Matricule, check_matricule
from schemas.topics import ACCESS_COMMANDS, ACTIVATION_COMMANDS
from services.access import presence
from services.records.readmodel import DocumentReadModel

from .bus import Bus

router = APIRouter(prefix="/v1")
STEPS = ("set-password", "choose-channel", "resend-otp", "verify-otp", "link-luxtrust", "skip-luxtrust", "confirm")


@dataclass
class Context:
    bus: Bus
    activation: httpx.AsyncClient
    access: httpx.AsyncClient
    documents: DocumentReadModel
    secure: bool
    notifications: Any = None  # notify's outbox (its in-app notices)
    directory: Any = None  # access's copy of the professional directory


def ctx(request: Request) -> Context:
    context: Context = request.app.state.ctx
    return context


class Start(BaseModel):
    model_config = ConfigDict(extra="forbid")
    matricule: Matricule
    activation_code: str = Field(max_length=64)
    terms_version: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}$")
    captcha_id: str = Field(max_length=64)
    captcha_answer: str = Field(max_length=64)


class StepBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str | None = Field(default=None, max_length=128)
    channel: Literal["email", "sms"] | None = None
    email: EmailStr | None = None
    mobile: str | None = Field(default=None, pattern=r"^\+[1-9]\d{6,14}$")
    code: str | None = Field(default=None, max_length=16)
    luxtrust_assertion: str | None = Field(default=None, max_length=4096)


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    matricule: Matricule
    password: str = Field(max_length=128)
    channel: Literal["email", "sms"] | None = None


class Code(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=16)


def _answer(outcome: dict[str, Any]) -> dict[str, Any]:
    if not outcome["accepted"]:
        raise HTTPException(400, {"reason": outcome["reason"], "next_step": outcome.get("next_step")})
    return {k: outcome.get(k) for k in ("reason", "next_step", "details")}


def _cookie(response: Response, name: str, value: str, secure: bool) -> None:
    response.set_cookie(name, value, httponly=True, samesite="strict", secure=secure, max_age=1800, path="/v1")


def checked(model: type[BaseModel], body: dict[str, Any]) -> dict[str, Any]:
    """A command the service would dead-letter is refused here, with the contract's reasons (a 422, not a wait)."""
    try:
        model.model_validate(body)
    except ValidationError as exc:
        errors = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in exc.errors(include_input=False)]
        raise HTTPException(422, {"reason": "invalid request", "errors": errors}) from None
    return body


async def _activation(c: Context, matricule: str, command: str, **fields: Any) -> dict[str, Any]:
    body = checked(ActivationCommandV1, {"command": command, "command_id": f"gw-{uuid.uuid4()}",
                                         "matricule": matricule, **{k: v for k, v in fields.items() if v is not None}})
    return await c.bus.command(ACTIVATION_COMMANDS.name, matricule, body)


def _split(cookie: str | None) -> tuple[str, str]:
    matricule, _, secret = (cookie or "").partition(".")
    try:
        check_matricule(matricule)
    except ValueError:
        matricule = ""
    if not matricule or not re.fullmatch(r"[A-Za-z0-9_-]{32,128}", secret):
        raise HTTPException(401, {"reason": "no activation or login in progress in this browser"})
    return matricule, secret


@router.post("/activation/captcha", summary="A captcha to copy (PNG, base64)")
async def captcha(request: Request) -> Any:
    reply = await ctx(request).activation.post("/v1/captcha", content=b"{}")
    return reply.json()


@router.post("/activation/start", summary="Step 1: matricule, the letter's code, terms, captcha")
async def start(body: Start, request: Request, response: Response) -> dict[str, Any]:
    c, flow_id = ctx(request), secrets.token_urlsafe(32)
    outcome = await _activation(c, body.matricule, "start", flow_id=flow_id,
                                **body.model_dump(exclude={"matricule"}))
    _cookie(response, "dsp_flow", f"{body.matricule}.{flow_id}", c.secure)
    return _answer(outcome)


@router.post("/activation/{step}", summary="The next activation step")
async def step(step: Literal[STEPS], body: StepBody, request: Request,  # type: ignore[valid-type]
               dsp_flow: Annotated[str | None, Cookie()] = None) -> dict[str, Any]:
    matricule, flow_id = _split(dsp_flow)
    return _answer(await _activation(ctx(request), matricule, step, flow_id=flow_id, **body.model_dump()))


@router.post("/login", summary="Matricule and password; a one-time code is sent")
async def login(body: LoginBody, request: Request, response: Response) -> dict[str, Any]:
    c, login_id = ctx(request), secrets.token_urlsafe(32)
    outcome = await _activation(c, body.matricule, "login", login_id=login_id, password=body.password,
                                channel=body.channel)
    _cookie(response, "dsp_login", f"{body.matricule}.{login_id}", c.secure)
    return _answer(outcome)


@router.post("/login/verify", summary="The one-time code; opens a session")
async def verify(body: Code, request: Request, response: Response,
                 dsp_login: Annotated[str | None, Cookie()] = None) -> dict[str, Any]:
    c, (matricule, login_id) = ctx(request), _split(dsp_login)
    token = secrets.token_urlsafe(32)
    answer = _answer(await _activation(c, matricule, "login-verify-otp", login_id=login_id, code=body.code,
                                       session_token=token))
    _cookie(response, "dsp_session", token, c.secure)
    response.delete_cookie("dsp_login", path="/v1")
    return answer


async def me(c: Context, session: str | None) -> str:
    if not session:
        raise HTTPException(401, {"reason": "not logged in"})
    reply = await c.activation.post("/v1/sessions/check", json={"session_token": session})
    if reply.status_code != 200:
        raise HTTPException(401, {"reason": "not logged in (the session is unknown, expired or ended)"})
    matricule: str = reply.json()["matricule"]
    return matricule


Session = Annotated[str | None, Cookie(alias="dsp_session")]


Behalf = Annotated[str | None, Header(alias="X-DSP-Patient", max_length=13)]


async def acting_for(c: Context, session: str | None, behalf: str | None) -> tuple[str, str]:
    """(the person logged in, the patient whose DSP they act on): themselves, or a patient they assist."""
    user = await me(c, session)
    if not behalf or behalf == user:
        return user, user
    try:
        check_matricule(behalf)
    except ValueError:
        raise HTTPException(422, {"reason": "X-DSP-Patient is not a valid matricule"}) from None
    reply = await c.access.post("/v1/decisions", json={"actor": {"kind": "patient", "id": user}, "action": "manage",
                                                       "patient": behalf})
    if reply.status_code != 200:
        raise HTTPException(503, {"reason": "access decisions unavailable; try again"})
    if not reply.json()["allowed"]:
        raise HTTPException(403, {"reason": reply.json()["reason"]})
    return user, behalf


@router.post("/logout", summary="End the session")
async def logout(request: Request, response: Response, session: Session = None) -> dict[str, Any]:
    c = ctx(request)
    matricule = await me(c, session)
    answer = _answer(await _activation(c, matricule, "logout", session_token=session))
    response.delete_cookie("dsp_session", path="/v1")
    return answer


@router.get("/me/documents", summary="Latest documents, all (paged), or a keyword search")
async def documents(request: Request, session: Session = None, q: Annotated[str | None, Query(max_length=100)] = None,
                    page: Annotated[int | None, Query(ge=0, le=10_000)] = None) -> list[dict[str, Any]]:
    c = ctx(request)
    patient = await me(c, session)
    if q:
        found = await c.documents.search(patient, q)
    elif page is not None:
        found = await c.documents.all(patient, page=page)
    else:
        found = await c.documents.latest(patient)
    return [_public(d) for d in found]


@router.get("/me/documents/{document_id}/file", summary="Download a document's file")
async def document_file(document_id: Annotated[str, PathParam(max_length=64)], request: Request,
                        session: Session = None) -> Response:
    c = ctx(request)
    found = await c.documents.file(await me(c, session), document_id)
    if found is None:
        raise HTTPException(404, {"reason": "no such document file in this DSP"})
    return Response(found[1], media_type=found[0])


@router.post("/me/access/commands", summary="Manage access: circle, GP, emergency, blocks, presence password...")
async def access_command(body: dict[str, Any], request: Request, session: Session = None) -> dict[str, Any]:
    c = ctx(request)
    patient = await me(c, session)
    fields = {k: v for k, v in body.items() if k not in ("command_id", "patient", "actor")}
    command = checked(AccessCommandV1, {**fields, "command_id": f"gw-{uuid.uuid4()}", "patient": patient,
                                        "actor": {"kind": "patient", "id": patient}})
    if command["command"] in ("end-grant", "set-document-visibility", "redeem-presence-password", "break-the-glass"):
        raise HTTPException(403, {"reason": "not a patient's command"})
    return _answer(await c.bus.command(ACCESS_COMMANDS.name, patient, command))


class PresenceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    letter: bool = Field(default=False, description="Also send it by letter")


@router.post("/me/presence-password", summary="A new presence password, shown once (the old one stops working)")
async def presence_password(body: PresenceBody, request: Request, session: Session = None,
                            behalf: Behalf = None) -> dict[str, Any]:
    c = ctx(request)
    user, patient = await acting_for(c, session, behalf)
    password = presence.generate()
    command = checked(AccessCommandV1, {"command": "generate-presence-password", "command_id": f"gw-{uuid.uuid4()}",
                                        "patient": patient, "actor": {"kind": "patient", "id": user},
                                        "delivery": "letter" if body.letter else "none", "password": password})
    answer = _answer(await c.bus.command(ACCESS_COMMANDS.name, patient, command))
    return {**answer, "presence_password": password}  # never stored in clear; this answer is not cached


@router.get("/me/access", summary="Who has access, blocked professionals, assistants, consents")
async def access_state(request: Request, session: Session = None) -> Any:
    return await _access_read(request, session, "/v1/access-state")


@router.get("/me/audit", summary="Who accessed what, and when")
async def audit(request: Request, session: Session = None) -> Any:
    return await _access_read(request, session, "/v1/audit")


async def _access_read(request: Request, session: str | None, path: str) -> Any:
    c = ctx(request)
    patient = await me(c, session)
    reply = await c.access.post(path, json={"actor": {"kind": "patient", "id": patient}, "patient": patient})
    if reply.status_code != 200:
        raise HTTPException(reply.status_code if reply.status_code < 500 else 503, reply.json())
    return reply.json()


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    keep = ("_id", "document_type", "title", "author", "document_date", "status", "blocked", "version_count")
    out = {k: doc.get(k) for k in keep}
    out["id"] = out.pop("_id")
    attachment = (doc.get("current") or {}).get("attachment")
    out["has_file"] = bool(attachment)
    return {k: (base64.b64encode(v).decode() if isinstance(v, bytes) else v) for k, v in out.items()}
