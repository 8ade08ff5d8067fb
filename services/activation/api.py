"""activation's HTTP API for the gateway: challenges, every step that checks a secret, and sessions. Bodies are
JSON (`schemas.activation`); the answer is a `StepAnswer` (tokens appear only here, never on Kafka)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from schemas.activation import (
    ChangePasswordRequest,
    ForgotPasswordRequest,
    LoginCodeRequest,
    LoginRequest,
    LuxTrustLoginRequest,
    SessionRequest,
    StartRequest,
    StepRequest,
)
from services.kit.http import Door

from .challenges import Challenges
from .logins import Answer
from .portal import PortalSteps
from .service import ActivationService

GATEWAY = ("gateway",)
CONSOLE = ("console",)


def _step(door: Door, model: type[BaseModel], run: Callable[[Any], Awaitable[Answer]]) -> Any:
    async def handle(raw: bytes) -> tuple[int, Any]:
        answer = await run(model.model_validate_json(raw))
        return 200, answer.public().model_dump(mode="json", exclude_none=True)
    return door.endpoint(handle, GATEWAY)


class ActivationApi:
    def __init__(self, service: ActivationService, challenges: Challenges) -> None:
        self.service, self.challenges, self.steps = service, challenges, PortalSteps(service)

    def routes(self, door: Door) -> list[tuple[str, Any]]:
        """Each behind the door: only the gateway calls them (a service token, JSON, a known Host)."""
        s, d = self.steps, door
        return [("/v1/captcha", d.endpoint(self.new_captcha, GATEWAY)),
                ("/v1/altcha", d.endpoint(self.new_altcha, GATEWAY)),
                ("/v1/activation/start", _step(d, StartRequest, s.start)),
                ("/v1/activation/step", _step(d, StepRequest, s.step)),
                ("/v1/login", _step(d, LoginRequest, s.login)),
                ("/v1/login/verify", _step(d, LoginCodeRequest, s.login_code)),
                ("/v1/login/luxtrust", _step(d, LuxTrustLoginRequest, s.login_luxtrust)),
                ("/v1/sessions/end", _step(d, SessionRequest, s.end_session)),
                ("/v1/password/change", _step(d, ChangePasswordRequest, s.change_password)),
                ("/v1/password/forgot", _step(d, ForgotPasswordRequest, s.forgot_password)),
                ("/v1/sessions/check", d.endpoint(self.check, GATEWAY)),
                ("/v1/stats", d.endpoint(self.stats, CONSOLE))]

    async def stats(self, raw: bytes) -> tuple[int, Any]:
        """The console's counters (it never opens activation's database)."""
        return 200, await self.service.store.counts()

    async def new_captcha(self, raw: bytes) -> tuple[int, Any]:
        return 200, await self.challenges.new_captcha()

    async def new_altcha(self, raw: bytes) -> tuple[int, Any]:
        return 200, await self.challenges.new_altcha()

    async def check(self, raw: bytes) -> tuple[int, Any]:
        body = SessionRequest.model_validate_json(raw)
        session = await self.service.session(body.session_token)
        if session is None:
            return 401, {"detail": "no such session, or it expired or ended"}
        return 200, {"matricule": session["matricule"], "expires_at": session["expires_at"].isoformat()}
