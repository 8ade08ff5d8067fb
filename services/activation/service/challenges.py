"""Challenges a person solves before a guessable secret is checked: an image captcha, or its accessible
alternative that needs no eyes, an ALTCHA proof of work the browser solves in about a second.

Both are single use (a wrong answer uses the challenge up too: the claim comes before the answer is checked),
expire after 5 minutes on the service's clock, and are stored keyed: a captcha's answer as an HMAC under a server
key (an unsalted hash of 5 characters is reversed in seconds), an ALTCHA challenge as its own HMAC signature
(`altcha` library, protocol v1). FerretDB has no TTL index: making a challenge sweeps the expired ones (and their
used marks) away, at most once a minute per replica on the injected clock (`PURGE_EVERY`) — one delete of a
collection that holds only the last minutes' challenges. The gateway limits how many a client address asks for."""

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

from ..store.protocol import Store

VALIDITY = timedelta(minutes=5)
PURGE_EVERY = timedelta(minutes=1)
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
        self._purged: datetime | None = None

    def _answer_mac(self, captcha_id: str, answer: str) -> str:
        return hmac.new(self.key, f"{captcha_id}|{answer.strip().upper()}".encode(), hashlib.sha256).hexdigest()

    async def _purge(self) -> None:
        """Expired challenges and their used marks go, at most once every `PURGE_EVERY` (a replay of a purged one
        finds no challenge: refused like any unknown one)."""
        now = self.clock()
        if self._purged is not None and now - self._purged < PURGE_EVERY:
            return
        self._purged = now
        await self.store.purge_challenges(now)

    async def new_captcha(self) -> dict[str, Any]:
        await self._purge()
        answer, png = self.maker.make()
        captcha_id = secrets.token_urlsafe(16)
        await self.store.put_challenge(captcha_id, self._answer_mac(captcha_id, answer), self.clock() + VALIDITY)
        return {"captcha_id": captcha_id, "image_png_base64": base64.b64encode(png).decode(),
                "expires_in_s": int(VALIDITY.total_seconds())}

    async def new_altcha(self) -> dict[str, Any]:
        await self._purge()
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
        if stored is None or not await self.store.use_challenge(answer.captcha_id, stored["expires_at"]):
            return False
        fresh = self.clock() < stored["expires_at"]
        return fresh and hmac.compare_digest(stored["answer"], self._answer_mac(answer.captcha_id,
                                                                                 answer.captcha_answer))

    async def _altcha_solved(self, payload: str) -> bool:
        """The challenge the payload names (by its signature) is used up first, then the solution is checked."""
        try:
            signature = json.loads(base64.b64decode(payload))["signature"]  # as `altcha` reads it
        except (ValueError, KeyError, TypeError):  # not base64, not JSON, not an object with a signature
            return False
        cid = f"altcha:{signature}"
        stored = await self.store.challenge(cid) if isinstance(signature, str) else None
        if stored is None or not await self.store.use_challenge(cid, stored["expires_at"]):
            return False
        ok, _ = verify_solution(payload, self.key.hex(), check_expires=False)
        return ok and self.clock() < stored["expires_at"]
