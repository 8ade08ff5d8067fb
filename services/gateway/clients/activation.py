"""activation's API for the portal (`services/activation/api/`): the challenges, every step that checks a secret
(activation, login, the one-time code, passwords, ending a session: a `StepAnswer` each) and the session check.
Nothing secret goes on Kafka: each is answered here, over HTTP."""

from __future__ import annotations

import httpx

from schemas.activation import (
    ChangePasswordRequest,
    ForgotPasswordRequest,
    LoginCodeRequest,
    LoginRequest,
    SessionRequest,
    SessionV1,
    StartRequest,
    StepAnswer,
    StepRequest,
)
from schemas.portal import AltchaChallenge, Captcha

from ..calls import parsed, read
from ..problems import Refusal, field_errors, upstream

SERVICE = "activation"


class ActivationClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def session(self, token: str) -> SessionV1 | None:
        """Whose live session `token` is; None: unknown, expired or ended (or a token that cannot be one)."""
        reply = await self.http.post("/v1/sessions/check", json={"session_token": token})
        if reply.status_code >= 500:
            raise Refusal(503, "activation unavailable; try again")
        if reply.status_code != 200:  # 401, or 422 for a token that cannot be one
            return None
        return parsed(SessionV1, reply.json(), SERVICE)

    async def captcha(self) -> Captcha:
        return parsed(Captcha, await read(self.http, SERVICE, "/v1/captcha", {}, keep=()), SERVICE)

    async def altcha(self) -> AltchaChallenge:
        return parsed(AltchaChallenge, await read(self.http, SERVICE, "/v1/altcha", {}, keep=()), SERVICE)

    async def start(self, request: StartRequest) -> StepAnswer:
        return await self._step("/v1/activation/start", request)

    async def step(self, request: StepRequest) -> StepAnswer:
        return await self._step("/v1/activation/step", request)

    async def login(self, request: LoginRequest) -> StepAnswer:
        return await self._step("/v1/login", request)

    async def verify(self, request: LoginCodeRequest) -> StepAnswer:
        return await self._step("/v1/login/verify", request)

    async def forgot(self, request: ForgotPasswordRequest) -> StepAnswer:
        return await self._step("/v1/password/forgot", request)

    async def change_password(self, request: ChangePasswordRequest) -> StepAnswer:
        return await self._step("/v1/password/change", request)

    async def end(self, request: SessionRequest) -> StepAnswer:
        return await self._step("/v1/sessions/end", request)

    async def _step(self, path: str, request: StartRequest | StepRequest | LoginRequest | LoginCodeRequest |
                    ForgotPasswordRequest | ChangePasswordRequest | SessionRequest) -> StepAnswer:
        """activation's answer to one step, accepted or refused (the route tells the client which); a body
        activation's contract refuses is a 422 with its fields."""
        reply = await self.http.post(path, json=request.model_dump(mode="json", exclude_none=True))
        if reply.status_code == 422:
            raise Refusal(422, "invalid request", errors=field_errors(reply.json().get("errors", [])))
        if reply.status_code != 200:
            raise upstream(reply, SERVICE, keep=())
        return parsed(StepAnswer, reply.json(), SERVICE)
