"""Professional routes: log in with an assertion of the professional identity provider, redeem a patient's
presence password, break the glass, list the patients one may read (the document reads are `pro_documents.py`:
each decided and audited by access first). Patients are named in bodies, never in URLs.

The identity provider's assertion and its rules are `pro_assertion.py`; it is used once (its `jti` is
remembered, `store/sessions.py`). Login also needs the professional listed and active in access's directory
(`/v1/professionals/get`; the use case: `service/pro_login.py`). The session is server-side: the `dsp_pro`
cookie holds a random token, 30 minutes idle, 8 hours at most, ended by `POST /v1/pro/logout`."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, BackgroundTasks, Cookie, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from schemas.access import ProfessionalQuery
from schemas.fields import Matricule
from schemas.portal import Acknowledged, ProLogin
from schemas.portal_access import CommandResult, ProPatients

from ..calls import query
from ..context import Cursor, ctx
from ..problems import Refusal, errors
from ..service import presence, pro_login
from ..service.commands import access_command
from ..store.sessions import ABSOLUTE, IDLE, ProStore, SessionRefused

log = structlog.get_logger("dsp.gateway.pro")
router = APIRouter(prefix="/v1/pro", tags=["professional"], responses=errors(400, 401, 413, 422, 429, 503))
SESSION_S = int(IDLE.total_seconds())
COOKIE = "dsp_pro"


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
    pro, opened = await pro_login.login(ctx(request).clients.access, store, key, body.assertion, dsp_pro)
    _set_cookie(response, request, opened.token, int(ABSOLUTE.total_seconds()))
    if store.purge_due():
        background.add_task(store.purge)
    log.info("professional logged in", professional_id=pro)
    return ProLogin(professional_id=pro, session_s=SESSION_S, session_ends_at=opened.absolute)


@router.post("/logout", summary="End this professional session (server-side) and clear its cookie")
async def logout(request: Request, response: Response, pro: Professional,
                 dsp_pro: ProCookie = None) -> Acknowledged:
    await _store(request).revoke(dsp_pro)
    response.delete_cookie(COOKIE, httponly=True, samesite="strict", secure=ctx(request).secure, path="/")
    log.info("professional logged out", professional_id=pro)
    return Acknowledged(reason="logged out")


@router.post("/presence-password", summary="Redeem the patient's presence password: 24 hours of access",
             responses=errors(403))
async def redeem(body: Redeem, request: Request, pro: Professional) -> CommandResult:
    """access checks the password over HTTP (never Kafka) and then grants through the patient's partition."""
    return await presence.redeem(ctx(request), pro, body.patient, body.password)


@router.post("/break-the-glass", summary="Emergency access, with a justification; the patient is alerted")
async def break_the_glass(body: Glass, request: Request, pro: Professional) -> CommandResult:
    return await access_command(ctx(request), body.patient, {"kind": "professional", "id": pro},
                                {"command": "break-the-glass", "justification": body.justification})


@router.get("/patients", summary="The patients whose DSP this professional may read now, named, with the grant",
            response_model=ProPatients, responses=errors(404))
async def my_patients(request: Request, pro: Professional, cursor: Cursor = None,
                      limit: Annotated[int, Query(ge=1, le=200)] = 50) -> ProPatients:
    page = await ctx(request).clients.access.patients_of(query(ProfessionalQuery, professional_id=pro, cursor=cursor,
                                                               limit=limit))
    return ProPatients(professional=page.professional, items=page.items, next_cursor=page.next_cursor)
