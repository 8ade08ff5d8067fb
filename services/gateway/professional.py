"""Professional routes: log in with an assertion of the professional identity provider, redeem a patient's
presence password, break the glass, list the patients one may read (the document reads are `pro_documents.py`:
each decided and audited by access first). Patients are named in bodies, never in URLs.

The real eHealth identity provider is out of scope: its assertion is modelled as `payload.signature`, payload =
base64url JSON {"sub": professional id, "iat": issued, "exp": expires (unix times), "jti": its unique id},
signature = HMAC-SHA256 under a key shared with it (`DSP_GATEWAY_PRO_IDP_KEY`). An assertion lives at most
5 minutes (`exp - iat`), is not issued in the future (30 s of clock skew allowed) and is used once (its `jti` is
remembered, `store/sessions.py`). Login also needs the professional listed and active in access's directory
(`/v1/professionals/get`). The session is server-side: the `dsp_pro` cookie holds a random token, 30 minutes
idle, 8 hours at most, ended by `POST /v1/pro/logout`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeGuard

import structlog
from fastapi import APIRouter, BackgroundTasks, Cookie, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from schemas.access import AccessCommandV1
from schemas.fields import IDENTIFIER_PATTERN, Matricule
from schemas.portal import Acknowledged, ProLogin
from schemas.portal_access import CommandResult, ProPatients
from schemas.topics import ACCESS_COMMANDS

from .calls import read
from .patient import Context, Cursor, _answer, checked, ctx
from .problems import Refusal, errors, upstream
from .store.sessions import ABSOLUTE, IDLE, ProStore, SessionRefused

log = structlog.get_logger("dsp.gateway.pro")
router = APIRouter(prefix="/v1/pro", tags=["professional"], responses=errors(400, 401, 413, 422, 429, 503))
ASSERTION_MAX_S = 300
CLOCK_SKEW_S = 30
SESSION_S = int(IDLE.total_seconds())
COOKIE = "dsp_pro"
SUBJECT = re.compile(IDENTIFIER_PATTERN)  # a directory id (schemas.fields.Identifier)
JTI = re.compile(r"[A-Za-z0-9._:-]{8,128}")
NOT_VALID = "the assertion is not valid"


class AssertionRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Claims:
    subject: str
    issued: int
    expires: int
    jti: str


def sign_claims(key: bytes, claims: dict[str, Any]) -> str:
    """`claims` signed as the identity provider signs them (tests and tools make assertions with it)."""
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    signature = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{signature}"


def sign(key: bytes, subject: str, expires: int, *, issued: int | None = None, jti: str | None = None) -> str:
    """An assertion for `subject` until `expires`: issued now unless told, a fresh random `jti` unless told."""
    return sign_claims(key, {"sub": subject, "iat": int(time.time()) if issued is None else issued,
                             "exp": expires, "jti": jti or secrets.token_urlsafe(16)})


def _number(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def check_assertion(key: bytes, token: str, now: float) -> Claims:
    """The claims of a well-signed assertion that may be used at `now`, else AssertionRefused with the reason.
    The signature is checked in constant time, first; nothing about the claims is told before it holds. Single
    use is the caller's: it remembers `jti`."""
    payload, _, signature = token.partition(".")
    if not payload.isascii() or not re.fullmatch(r"[0-9a-f]{64}", signature):
        raise AssertionRefused(NOT_VALID)  # (compare_digest refuses non-ASCII text: schemathesis found that one)
    expected = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise AssertionRefused(NOT_VALID)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        raise AssertionRefused(NOT_VALID) from None
    if not isinstance(claims, dict):
        raise AssertionRefused(NOT_VALID)
    subject, issued, expires, jti = (claims.get(k) for k in ("sub", "iat", "exp", "jti"))
    if not isinstance(subject, str) or not SUBJECT.fullmatch(subject):
        raise AssertionRefused("the assertion has no valid sub (the professional's directory id)")
    if not _number(issued) or not _number(expires):
        raise AssertionRefused("the assertion needs iat and exp (unix times)")
    if not isinstance(jti, str) or not JTI.fullmatch(jti):
        raise AssertionRefused("the assertion needs a jti (8-128 characters of A-Z a-z 0-9 . _ : -)")
    if expires <= now:
        raise AssertionRefused("the assertion has expired")
    if issued > now + CLOCK_SKEW_S:
        raise AssertionRefused("the assertion is issued in the future")
    if not 0 < expires - issued <= ASSERTION_MAX_S:
        raise AssertionRefused(f"an assertion must live at most {ASSERTION_MAX_S} seconds (exp - iat)")
    return Claims(subject, issued, expires, jti)


class Assertion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assertion: str = Field(max_length=2048, description="From the professional identity provider")


class Redeem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patient: Matricule
    password: str = Field(max_length=32)


class Glass(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patient: Matricule
    justification: str = Field(min_length=15, max_length=500)


def _idp_key(request: Request) -> bytes:
    key: bytes | None = request.app.state.pro_idp_key
    if key is None:
        raise Refusal(503, "professional login is not configured on this gateway")
    return key


def _store(request: Request) -> ProStore:
    store: ProStore = request.app.state.pro_sessions
    return store


ProCookie = Annotated[str | None, Cookie(alias=COOKIE, description="The professional session (from login)")]


async def professional(request: Request, dsp_pro: ProCookie = None) -> str:
    """The professional of this request's session: a live, unrevoked server-side session, else 401."""
    try:
        return await _store(request).professional(dsp_pro)
    except SessionRefused as refused:
        raise Refusal(401, refused.reason) from None


Professional = Annotated[str, Depends(professional)]


def _set_cookie(response: Response, request: Request, value: str, max_age: int) -> None:
    response.set_cookie(COOKIE, value, httponly=True, samesite="strict", secure=ctx(request).secure,
                        max_age=max_age, path="/")


@router.post("/login", summary="Log in with the professional identity provider's assertion (used once)",
             responses=errors(403))
async def login(body: Assertion, request: Request, response: Response, background: BackgroundTasks,
                dsp_pro: ProCookie = None) -> ProLogin:
    key, store = _idp_key(request), _store(request)
    try:
        claims = check_assertion(key, body.assertion, store.clock().timestamp())
    except AssertionRefused as refused:
        raise Refusal(401, refused.reason) from None
    if not await store.use_assertion(claims.jti, claims.subject, datetime.fromtimestamp(claims.expires, UTC)):
        raise Refusal(401, "assertion already used")
    listed = await read(ctx(request).access, "access", "/v1/professionals/get",
                        {"professional_id": claims.subject}, keep=())
    if not listed["listed"]:
        raise Refusal(403, "not listed in the professional directory")
    if not listed["active"]:
        raise Refusal(403, "no longer active in the professional directory")
    await store.revoke(dsp_pro)  # this browser's previous session, if any, ends
    opened = await store.open(claims.subject)
    _set_cookie(response, request, opened.token, int(ABSOLUTE.total_seconds()))
    if store.purge_due():
        background.add_task(store.purge)
    log.info("professional logged in", professional_id=claims.subject)
    return ProLogin(professional_id=claims.subject, session_s=SESSION_S, session_ends_at=opened.absolute)


@router.post("/logout", summary="End this professional session (server-side) and clear its cookie")
async def logout(request: Request, response: Response, pro: Professional,
                 dsp_pro: ProCookie = None) -> Acknowledged:
    await _store(request).revoke(dsp_pro)
    response.delete_cookie(COOKIE, httponly=True, samesite="strict", secure=ctx(request).secure, path="/")
    log.info("professional logged out", professional_id=pro)
    return Acknowledged(reason="logged out")


async def _command(c: Context, patient: str, pro: str, command: str, **fields: Any) -> CommandResult:
    body = checked(AccessCommandV1, {"command": command, "command_id": f"gw-{uuid.uuid4()}", "patient": patient,
                                     "actor": {"kind": "professional", "id": pro}, **fields})
    return _answer(await c.bus.command(ACCESS_COMMANDS.name, patient, body))


@router.post("/presence-password", summary="Redeem the patient's presence password: 24 hours of access",
             responses=errors(403))
async def redeem(body: Redeem, request: Request, pro: Professional) -> CommandResult:
    """access checks the password over HTTP (never Kafka) and then grants through the patient's partition."""
    c, command_id = ctx(request), f"gw-{uuid.uuid4()}"
    async with c.bus.expecting(command_id) as outcome:
        reply = await c.access.post("/v1/presence/redeem", json={
            "command_id": command_id, "patient": body.patient, "professional_id": pro, "password": body.password})
        if reply.status_code != 202:
            raise upstream(reply, "access", keep=(403, 429))
        return _answer(await c.bus.outcome(outcome))


@router.post("/break-the-glass", summary="Emergency access, with a justification; the patient is alerted")
async def break_the_glass(body: Glass, request: Request, pro: Professional) -> CommandResult:
    return await _command(ctx(request), body.patient, pro, "break-the-glass", justification=body.justification)


@router.get("/patients", summary="The patients whose DSP this professional may read now, named, with the grant",
            response_model=ProPatients, responses=errors(404))
async def my_patients(request: Request, pro: Professional, cursor: Cursor = None,
                      limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Any:
    page = await read(ctx(request).access, "access", "/v1/patients-of",
                      {"professional_id": pro, "cursor": cursor, "limit": limit}, keep=(403, 404, 422))
    return ProPatients(professional=page["professional"], items=page["items"], next_cursor=page["next_cursor"])
