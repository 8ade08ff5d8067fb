"""Account routes: the challenges, activation from the letter, login with a one-time code, logout, passwords.

Every step that checks a secret is answered by activation over HTTP (nothing secret goes on Kafka); login and
the letter's code also carry the client's address (activation delays failed attempts per address). Browser
tokens (activation flow, login, session, device) are activation's, opaque, in HttpOnly SameSite=Strict cookies;
no personal data in cookies or URLs. A refused step is a problem with activation's reason (a 429 with
`Retry-After` while attempts must wait)."""

from __future__ import annotations

from typing import Annotated, Literal, NamedTuple

from fastapi import APIRouter, Cookie, Request, Response

from schemas.activation import (
    STEPS,
    ChangePasswordRequest,
    ForgotPasswordRequest,
    LoginCodeRequest,
    LoginRequest,
    SessionRequest,
    StartRequest,
    StepAnswer,
    StepRequest,
)
from schemas.portal import AltchaChallenge, Captcha, StepResult
from schemas.portal_account import Code, Forgot, LoginBody, Logout, PasswordChange, Start, StepBody

from ..calls import query
from ..clients import ActivationClient
from ..context import Session, ctx, me
from ..problems import Refusal, errors

router = APIRouter(prefix="/v1", tags=["account"], responses=errors(400, 413, 422, 429, 503))
DEVICE_S = 365 * 24 * 3600


def _cookie(response: Response, name: str, value: str, secure: bool, max_age: int = 1800) -> None:
    response.set_cookie(name, value, httponly=True, samesite="strict", secure=secure, max_age=max_age, path="/")


def _forget(response: Response, name: str, secure: bool) -> None:
    response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="strict")


class Stepped(NamedTuple):
    public: StepResult
    token: str  # flow, login or session token ("" if none): a cookie, never in the answer
    device: str


def _stepped(answer: StepAnswer) -> Stepped:
    """activation's answer to a step as the portal's: a refusal is a 400 (429 while attempts must wait); the
    tokens go to cookies, never in the answer."""
    public = StepResult(reason=answer.reason, next_step=answer.next_step, details=answer.details,
                        challenge_required=answer.challenge_required)
    if not answer.accepted:
        if answer.retry_after_s:
            raise Refusal(429, public.reason, headers={"Retry-After": str(answer.retry_after_s)},
                          retry_after_s=answer.retry_after_s, **public.model_dump(exclude={"reason"}))
        raise Refusal(400, public.reason, **public.model_dump(exclude={"reason"}))
    return Stepped(public, answer.token or "", answer.device_token or "")


def _activation(request: Request) -> ActivationClient:
    return ctx(request).clients.activation


def _client(request: Request) -> str | None:
    """The client's address as the rate limits saw it (`limits.EdgeLimiter`, trusted proxies honoured): activation
    counts the delay after failed attempts per address, so a stranger's failures never delay the owner."""
    address: str | None = getattr(request.state, "client_address", None)
    return address


@router.post("/activation/captcha", summary="A captcha to copy (PNG, base64)", response_model=Captcha)
async def captcha(request: Request) -> Captcha:
    return await _activation(request).captcha()


@router.post("/activation/altcha", summary="A proof-of-work challenge the browser solves (no image to read)",
             response_model=AltchaChallenge)
async def altcha(request: Request) -> AltchaChallenge:
    return await _activation(request).altcha()


@router.post("/activation/start", summary="Step 1: matricule, the letter's code, terms, a solved challenge")
async def start(body: Start, request: Request, response: Response) -> StepResult:
    c = ctx(request)
    answer = _stepped(await c.clients.activation.start(query(
        StartRequest, None, matricule=body.matricule, activation_code=body.activation_code,
        terms_version=body.terms_version, challenge=body.answer() or {}, client=_client(request))))
    _cookie(response, "dsp_flow", answer.token, c.secure, 3600)
    return answer.public


@router.post("/activation/{step}", summary="The next activation step", responses=errors(401))
async def step(step: Literal[STEPS], body: StepBody, request: Request,  # type: ignore[valid-type]
               response: Response, dsp_flow: Annotated[str | None, Cookie(max_length=128)] = None) -> StepResult:
    c = ctx(request)
    if not dsp_flow:
        raise Refusal(401, "no activation in progress in this browser; start with the letter's code",
                      next_step="start")
    answer = _stepped(await c.clients.activation.step(query(
        StepRequest, None, flow_token=dsp_flow, command=step, **body.model_dump(exclude_none=True))))
    if step == "confirm":
        _forget(response, "dsp_flow", c.secure)
        if answer.device:
            _cookie(response, "dsp_device", answer.device, c.secure, DEVICE_S)
    return answer.public


@router.post("/login", summary="Matricule and password; a one-time code is sent")
async def login(body: LoginBody, request: Request, response: Response,
                dsp_device: Annotated[str | None, Cookie(max_length=128)] = None) -> StepResult:
    c = ctx(request)
    answer = _stepped(await c.clients.activation.login(query(
        LoginRequest, None, matricule=body.matricule, password=body.password, channel=body.channel,
        challenge=body.answer(), device_token=dsp_device, client=_client(request))))
    _cookie(response, "dsp_login", answer.token, c.secure, 600)
    return answer.public


@router.post("/login/verify", summary="The one-time code; opens a session", responses=errors(401))
async def verify(body: Code, request: Request, response: Response,
                 dsp_login: Annotated[str | None, Cookie(max_length=128)] = None) -> StepResult:
    c = ctx(request)
    if not dsp_login:
        raise Refusal(401, "no login in progress in this browser; log in again", next_step="login")
    answer = _stepped(await c.clients.activation.verify(query(LoginCodeRequest, None, login_token=dsp_login,
                                                              code=body.code)))
    _cookie(response, "dsp_session", answer.token, c.secure)
    if answer.device:
        _cookie(response, "dsp_device", answer.device, c.secure, DEVICE_S)
    _forget(response, "dsp_login", c.secure)
    return answer.public


@router.post("/password/forgot", summary="Forgotten password: a new letter (the same answer for every matricule)")
async def forgot(body: Forgot, request: Request) -> StepResult:
    answer = _stepped(await _activation(request).forgot(query(
        ForgotPasswordRequest, None, matricule=body.matricule, challenge=body.answer() or {})))
    return answer.public


@router.post("/logout", summary="End the session (or every session of the account)", responses=errors(401))
async def logout(request: Request, response: Response, body: Logout | None = None,
                 session: Session = None) -> StepResult:
    c = ctx(request)
    if not session:
        raise Refusal(401, "not logged in")
    answer = _stepped(await c.clients.activation.end(query(SessionRequest, None, session_token=session,
                                                           everywhere=bool(body and body.everywhere))))
    _forget(response, "dsp_session", c.secure)
    return answer.public


@router.post("/account/password", summary="Change your own login password (your other sessions end)",
             responses=errors(401))
async def change_password(body: PasswordChange, request: Request, session: Session = None) -> StepResult:
    c = ctx(request)
    await me(c, session)
    answer = _stepped(await c.clients.activation.change_password(query(
        ChangePasswordRequest, None, session_token=session, password=body.password,
        new_password=body.new_password)))
    return answer.public
