"""activation's HTTP API for the gateway: a captcha to show, and checking a session token."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from schemas.activation import Secret
from services.kit.hashing import digest
from services.kit.http import endpoint

from .service import ActivationService

CAPTCHA_VALIDITY = timedelta(minutes=5)
CAPTCHA_ALPHABET = "ABCDEFHJKMNPRSTUVWXYZ2345678"


class CaptchaMaker(Protocol):
    def make(self) -> tuple[str, bytes]:
        """(answer, PNG image)."""
        ...


class ImageCaptchaMaker:
    """Distorted text from `captcha` (a maintained library); 5 unambiguous characters."""

    def make(self) -> tuple[str, bytes]:
        from captcha.image import ImageCaptcha

        answer = "".join(secrets.choice(CAPTCHA_ALPHABET) for _ in range(5))
        return answer, ImageCaptcha(width=200, height=70).generate(answer).getvalue()


class SessionCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session_token: Secret


class ActivationApi:
    def __init__(self, service: ActivationService, captcha: CaptchaMaker, clock: Callable[[], datetime]) -> None:
        self.service, self.captcha, self.clock = service, captcha, clock

    def routes(self) -> list[tuple[str, Any]]:
        return [("/v1/captcha", endpoint(self.new_captcha)), ("/v1/sessions/check", endpoint(self.check))]

    async def new_captcha(self, raw: bytes) -> tuple[int, Any]:
        answer, png = self.captcha.make()
        captcha_id = secrets.token_urlsafe(16)
        await self.service.captchas.insert_one({"_id": captcha_id, "answer": digest(answer),
                                                "expires_at": self.clock() + CAPTCHA_VALIDITY})
        return 200, {"captcha_id": captcha_id, "image_png_base64": base64.b64encode(png).decode(),
                     "expires_in_s": int(CAPTCHA_VALIDITY.total_seconds())}

    async def check(self, raw: bytes) -> tuple[int, Any]:
        body = SessionCheck.model_validate_json(raw)
        session = await self.service.session(body.session_token)
        if session is None:
            return 401, {"detail": "no such session, or it expired or ended"}
        return 200, {"matricule": session["matricule"], "expires_at": session["expires_at"].isoformat()}
