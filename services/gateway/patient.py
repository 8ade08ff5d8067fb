"""Patient routes: activation steps, login, documents, access management, the audit trail.

Every step that checks a secret is answered by activation over HTTP (nothing secret goes on Kafka). Browser
tokens (activation flow, login, session, device) are activation's, opaque, in HttpOnly SameSite=Strict cookies;
no personal data in cookies or URLs. Every `/v1/me/...` route acts on the patient that one dependency resolves:
the person logged in, or — with `X-DSP-Patient` — a patient they assist (access decides). Refusals are 4xx with
the service's reason."""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NamedTuple

import httpx
from fastapi import APIRouter, Cookie, Depends, Header, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError

from schemas.access import AccessCommandV1
from schemas.activation import STEPS
from schemas.fields import Matricule, check_matricule
from schemas.topics import ACCESS_COMMANDS
from services.records.readmodel import DocumentReadModel

from .bus import Bus
from .uploads import download_headers

router = APIRouter(prefix="/v1")
DEVICE_S = 365 * 24 * 3600
INTERNAL = ("end-grant", "set-document-visibility", "redeem-presence-password", "break-the-glass",
            "generate-presence-password")


class RefusalLimit:
    """Counts refused 'act for' attempts per person, shared by the gateway's replicas (a `limits` limiter)."""

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
    documents: DocumentReadModel
    secure: bool
    notifications: Any = None  # notify's outbox (its in-app notices)
    directory: Any = None  # access's copy of the professional directory
    refusals: RefusalLimit | None = None


def ctx(request: Request) -> Context:
    context: Context = request.app.state.ctx
    return context


class Challenge(BaseModel):
    model_config = ConfigDict(extra="forbid")
    captcha_id: str | None = Field(default=None, max_length=64, description="From POST /v1/activation/captcha")
    captcha_answer: str | None = Field(default=None, max_length=64, description="The characters in the image")
    altcha: str | None = Field(default=None, max_length=4096, description="A solved ALTCHA challenge (payload)")

    def answer(self) -> dict[str, Any] | None:
        given = self.model_dump(include={"captcha_id", "captcha_answer", "altcha"}, exclude_none=True)
        return given or None


class Start(Challenge):
    matricule: Matricule
    activation_code: str = Field(max_length=64)
    terms_version: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}$")


class StepBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str | None = Field(default=None, max_length=128)
    channel: Literal["email", "sms"] | None = None
    email: EmailStr | None = None
    mobile: str | None = Field(default=None, pattern=r"^\+[1-9]\d{6,14}$")
    code: str | None = Field(default=None, max_length=16)
    luxtrust_assertion: str | None = Field(default=None, max_length=4096)


class LoginBody(Challenge):
    matricule: Matricule
    password: str = Field(max_length=128)
    channel: Literal["email", "sms"] | None = None


class Code(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=16)


class Forgot(Challenge):
    matricule: Matricule


class Logout(BaseModel):
    model_config = ConfigDict(extra="forbid")
    everywhere: bool = Field(default=False, description="End every session of the account")


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(max_length=128, description="The current password")
    new_password: str = Field(max_length=128)


def _answer(outcome: dict[str, Any]) -> dict[str, Any]:
    """An access command's outcome: a refusal is a 400 with the reason."""
    if not outcome["accepted"]:
        raise HTTPException(400, {"reason": outcome["reason"], "next_step": outcome.get("next_step")})
    return {k: outcome.get(k) for k in ("reason", "next_step", "details")}


def _cookie(response: Response, name: str, value: str, secure: bool, max_age: int = 1800) -> None:
    response.set_cookie(name, value, httponly=True, samesite="strict", secure=secure, max_age=max_age, path="/v1")


def _forget(response: Response, name: str, secure: bool) -> None:
    response.delete_cookie(name, path="/v1", secure=secure, httponly=True, samesite="strict")


def checked(model: type[BaseModel], body: dict[str, Any]) -> dict[str, Any]:
    """A command the service would dead-letter is refused here, with the contract's reasons (a 422, not a wait)."""
    try:
        model.model_validate(body)
    except ValidationError as exc:
        errors = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in exc.errors(include_input=False)]
        raise HTTPException(422, {"reason": "invalid request", "errors": errors}) from None
    return body


async def _step(c: Context, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    """One of activation's steps over HTTP; its refusal is a 400 (429 while attempts must wait)."""
    reply = await c.activation.post(path, json={k: v for k, v in payload.items() if v is not None})
    if reply.status_code >= 500:
        raise HTTPException(503, {"reason": "activation unavailable; try again"})
    if reply.status_code != 200:
        raise HTTPException(422, {"reason": "invalid request", "errors": reply.json().get("errors", [])})
    answer: dict[str, Any] = reply.json()
    public = {"reason": answer["reason"], "next_step": answer.get("next_step"), "details": answer.get("details", {}),
              "challenge_required": answer.get("challenge_required", False)}
    if not answer["accepted"]:
        if answer.get("retry_after_s"):
            raise HTTPException(429, {**public, "retry_after_s": answer["retry_after_s"]},
                                headers={"Retry-After": str(answer["retry_after_s"])})
        raise HTTPException(400, public)
    return {**public, "_token": answer.get("token"), "_device": answer.get("device_token")}


def _public_step(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if not k.startswith("_")}


@router.post("/activation/captcha", summary="A captcha to copy (PNG, base64)")
async def captcha(request: Request) -> Any:
    return (await ctx(request).activation.post("/v1/captcha", json={})).json()


@router.post("/activation/altcha", summary="A proof-of-work challenge the browser solves (no image to read)")
async def altcha(request: Request) -> Any:
    return (await ctx(request).activation.post("/v1/altcha", json={})).json()


@router.post("/activation/start", summary="Step 1: matricule, the letter's code, terms, a solved challenge")
async def start(body: Start, request: Request, response: Response) -> dict[str, Any]:
    c = ctx(request)
    answer = await _step(c, "/v1/activation/start", {
        "matricule": body.matricule, "activation_code": body.activation_code, "terms_version": body.terms_version,
        "challenge": body.answer() or {}})
    _cookie(response, "dsp_flow", answer["_token"], c.secure, 3600)
    return _public_step(answer)


@router.post("/activation/{step}", summary="The next activation step")
async def step(step: Literal[STEPS], body: StepBody, request: Request,  # type: ignore[valid-type]
               response: Response, dsp_flow: Annotated[str | None, Cookie(max_length=128)] = None) -> dict[str, Any]:
    c = ctx(request)
    if not dsp_flow:
        raise HTTPException(401, {"reason": "no activation in progress in this browser; start with the letter's code",
                                  "next_step": "start"})
    answer = await _step(c, "/v1/activation/step", {"flow_token": dsp_flow, "command": step,
                                                    **body.model_dump(exclude_none=True)})
    if step == "confirm":
        _forget(response, "dsp_flow", c.secure)
        if answer["_device"]:
            _cookie(response, "dsp_device", answer["_device"], c.secure, DEVICE_S)
    return _public_step(answer)


@router.post("/login", summary="Matricule and password; a one-time code is sent")
async def login(body: LoginBody, request: Request, response: Response,
                dsp_device: Annotated[str | None, Cookie(max_length=128)] = None) -> dict[str, Any]:
    c = ctx(request)
    answer = await _step(c, "/v1/login", {"matricule": body.matricule, "password": body.password,
                                         "channel": body.channel, "challenge": body.answer(),
                                         "device_token": dsp_device})
    _cookie(response, "dsp_login", answer["_token"], c.secure, 600)
    return _public_step(answer)


@router.post("/login/verify", summary="The one-time code; opens a session")
async def verify(body: Code, request: Request, response: Response,
                 dsp_login: Annotated[str | None, Cookie(max_length=128)] = None) -> dict[str, Any]:
    c = ctx(request)
    if not dsp_login:
        raise HTTPException(401, {"reason": "no login in progress in this browser; log in again", "next_step": "login"})
    answer = await _step(c, "/v1/login/verify", {"login_token": dsp_login, "code": body.code})
    _cookie(response, "dsp_session", answer["_token"], c.secure)
    if answer["_device"]:
        _cookie(response, "dsp_device", answer["_device"], c.secure, DEVICE_S)
    _forget(response, "dsp_login", c.secure)
    return _public_step(answer)


@router.post("/password/forgot", summary="Forgotten password: a new letter (the same answer for every matricule)")
async def forgot(body: Forgot, request: Request) -> dict[str, Any]:
    answer = await _step(ctx(request), "/v1/password/forgot", {"matricule": body.matricule,
                                                               "challenge": body.answer() or {}})
    return _public_step(answer)


async def me(c: Context, session: str | None) -> str:
    if not session:
        raise HTTPException(401, {"reason": "not logged in"})
    reply = await c.activation.post("/v1/sessions/check", json={"session_token": session})
    if reply.status_code >= 500:
        raise HTTPException(503, {"reason": "activation unavailable; try again"})
    if reply.status_code != 200:
        raise HTTPException(401, {"reason": "not logged in (the session is unknown, expired or ended)"})
    matricule: str = reply.json()["matricule"]
    return matricule


Session = Annotated[str | None, Cookie(alias="dsp_session", max_length=128)]
Behalf = Annotated[str | None, Header(alias="X-DSP-Patient", max_length=13)]


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
        raise HTTPException(422, {"reason": "X-DSP-Patient is not a valid matricule"}) from None
    if c.refusals is not None and await c.refusals.exceeded(user):
        raise HTTPException(429, {"reason": "too many refused attempts to act for another patient; wait a few "
                                            "minutes"}, headers={"Retry-After": "600"})
    reply = await c.access.post("/v1/decisions", json={"actor": {"kind": "patient", "id": user}, "action": "manage",
                                                       "patient": behalf})
    if reply.status_code != 200:
        raise HTTPException(503, {"reason": "access decisions unavailable; try again"})
    if not reply.json()["allowed"]:
        if c.refusals is not None:
            await c.refusals.count(user)
        raise HTTPException(403, {"reason": reply.json()["reason"]})
    return Acting(user, behalf)


ActingFor = Annotated[Acting, Depends(acting)]


@router.post("/logout", summary="End the session (or every session of the account)")
async def logout(request: Request, response: Response, body: Logout | None = None,
                 session: Session = None) -> dict[str, Any]:
    c = ctx(request)
    if not session:
        raise HTTPException(401, {"reason": "not logged in"})
    answer = await _step(c, "/v1/sessions/end", {"session_token": session,
                                                 "everywhere": bool(body and body.everywhere)})
    _forget(response, "dsp_session", c.secure)
    return _public_step(answer)


@router.post("/account/password", summary="Change your own login password (your other sessions end)")
async def change_password(body: PasswordChange, request: Request, session: Session = None) -> dict[str, Any]:
    c = ctx(request)
    await me(c, session)
    answer = await _step(c, "/v1/password/change", {"session_token": session, "password": body.password,
                                                    "new_password": body.new_password})
    return _public_step(answer)


@router.get("/me/documents", summary="Latest documents, all (paged), or a keyword search")
async def documents(request: Request, who: ActingFor, q: Annotated[str | None, Query(max_length=100)] = None,
                    page: Annotated[int | None, Query(ge=0, le=10_000)] = None) -> list[dict[str, Any]]:
    c = ctx(request)
    if q:
        found = await c.documents.search(who.patient, q)
    elif page is not None:
        found = await c.documents.all(who.patient, page=page)
    else:
        found = await c.documents.latest(who.patient)
    return [_public(d) for d in found]


@router.get("/me/documents/{document_id}/file", summary="Download a document's file")
async def document_file(document_id: Annotated[str, PathParam(max_length=64)], request: Request,
                        who: ActingFor) -> Response:
    found = await ctx(request).documents.file(who.patient, document_id)
    if found is None:
        raise HTTPException(404, {"reason": "no such document file in this DSP"})
    return Response(found[1], media_type=found[0], headers=download_headers(document_id, found[0]))


@router.post("/me/access/commands", summary="Manage access: circle, GP, emergency, blocks, assistants, consents")
async def access_command(body: dict[str, Any], request: Request, who: ActingFor) -> dict[str, Any]:
    c = ctx(request)
    fields = {k: v for k, v in body.items() if k not in ("command_id", "patient", "actor")}
    command = checked(AccessCommandV1, {**fields, "command_id": f"gw-{uuid.uuid4()}", "patient": who.patient,
                                        "actor": {"kind": "patient", "id": who.user}})
    if command["command"] in INTERNAL:
        raise HTTPException(403, {"reason": "not a patient's command (the presence password has its own route)"})
    return _answer(await c.bus.command(ACCESS_COMMANDS.name, who.patient, command))


class PresenceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    letter: bool = Field(default=False, description="Also send it by letter")


@router.post("/me/presence-password", summary="A new presence password, shown once (the old one stops working)")
async def presence_password(body: PresenceBody, request: Request, who: ActingFor) -> dict[str, Any]:
    """access generates it and keeps only its hash; it reaches this answer over HTTP, never Kafka."""
    c, command_id = ctx(request), f"gw-{uuid.uuid4()}"
    async with c.bus.expecting(command_id) as outcome:
        reply = await c.access.post("/v1/presence/generate", json={
            "command_id": command_id, "patient": who.patient, "actor": {"kind": "patient", "id": who.user},
            "delivery": "letter" if body.letter else "none"})
        if reply.status_code != 202:
            raise HTTPException(reply.status_code if reply.status_code < 500 else 503,
                                {"reason": reply.json().get("detail", "access unavailable; try again")})
        answer = _answer(await c.bus.outcome(outcome))
    return {**answer, "presence_password": reply.json()["presence_password"]}  # this answer is not cached


@router.get("/me/access", summary="Who has access, blocked professionals, assistants, consents")
async def access_state(request: Request, who: ActingFor) -> Any:
    return await _access_read(ctx(request), who, "/v1/access-state", {})


@router.get("/me/audit", summary="Who accessed what, and when (newest first, paged with before_seq)")
async def audit(request: Request, who: ActingFor, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                before_seq: Annotated[int | None, Query(ge=1)] = None) -> Any:
    page = await _access_read(ctx(request), who, "/v1/audit", {"limit": limit, "before_seq": before_seq})
    entries = page.get("entries", [])
    page["next_before_seq"] = entries[-1]["seq"] if len(entries) == limit and entries[-1]["seq"] > 1 else None
    return page


async def _access_read(c: Context, who: Acting, path: str, extra: dict[str, Any]) -> Any:
    reply = await c.access.post(path, json={"actor": {"kind": "patient", "id": who.user}, "patient": who.patient,
                                            **{k: v for k, v in extra.items() if v is not None}})
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
