"""Challenges a person solves before a guessable secret is checked: an image captcha, or its accessible
alternative that needs no eyes, an ALTCHA proof of work the browser solves in about a second.

Both are single use (a wrong answer uses the challenge up too), expire after 5 minutes on the service's clock,
and are stored keyed: a captcha's answer as an HMAC under a server key (an unsalted hash of 5 characters is
reversed in seconds), an ALTCHA challenge as its own HMAC signature (`altcha` library, protocol v1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from altcha.v1 import ChallengeOptions, create_challenge, verify_solution

from schemas.activation import ChallengeAnswer

from .store import Store

VALIDITY = timedelta(minutes=5)
CAPTCHA_ALPHABET = "ABCDEFHJKMNPRSTUVWXYZ2345678"
ALTCHA_MAX_NUMBER = 100_000  # about a second of SHA-256 in a browser; the server checks one hash


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


class Challenges:
    def __init__(self, store: Store, key: bytes, clock: Callable[[], datetime],
                 maker: CaptchaMaker) -> None:
        self.store, self.clock, self.maker = store, clock, maker
        self.key = hmac.new(key, b"dsp-activation-challenges", hashlib.sha256).digest()

    def _answer_mac(self, captcha_id: str, answer: str) -> str:
        return hmac.new(self.key, f"{captcha_id}|{answer.strip().upper()}".encode(), hashlib.sha256).hexdigest()

    async def new_captcha(self) -> dict[str, Any]:
        answer, png = self.maker.make()
        captcha_id = secrets.token_urlsafe(16)
        await self.store.put_challenge(captcha_id, self._answer_mac(captcha_id, answer), self.clock() + VALIDITY)
        return {"captcha_id": captcha_id, "image_png_base64": base64.b64encode(png).decode(),
                "expires_in_s": int(VALIDITY.total_seconds())}

    async def new_altcha(self) -> dict[str, Any]:
        challenge = create_challenge(ChallengeOptions(
            algorithm="SHA-256", max_number=ALTCHA_MAX_NUMBER, hmac_key=self.key.hex()))
        await self.store.put_challenge(f"altcha:{challenge.signature}", "altcha", self.clock() + VALIDITY)
        return {"algorithm": challenge.algorithm, "challenge": challenge.challenge, "maxnumber": challenge.max_number,
                "salt": challenge.salt, "signature": challenge.signature}

    async def solved(self, answer: ChallengeAnswer | None) -> bool:
        """True once for a right, unexpired answer; any answer given uses its challenge up."""
        if answer is None:
            return False
        if answer.altcha:
            return await self._altcha_solved(answer.altcha)
        if not answer.captcha_id or answer.captcha_answer is None:
            return False
        stored = await self.store.challenge(answer.captcha_id)
        if stored is None or not await self.store.use_challenge(answer.captcha_id):
            return False
        fresh = self.clock() < stored["expires_at"]
        return fresh and hmac.compare_digest(stored["answer"], self._answer_mac(answer.captcha_id,
                                                                                 answer.captcha_answer))

    async def _altcha_solved(self, payload: str) -> bool:
        ok, _ = verify_solution(payload, self.key.hex(), check_expires=False)
        if not ok:
            return False
        signature = str(json.loads(base64.b64decode(payload))["signature"])
        cid = f"altcha:{signature}"
        stored = await self.store.challenge(cid)
        return stored is not None and self.clock() < stored["expires_at"] and await self.store.use_challenge(cid)
