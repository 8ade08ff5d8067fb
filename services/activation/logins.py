"""What the portal's steps give browsers: `Answer` (a Step with what only HTTP may carry, tokens) and the tokens
themselves — a flow or login token, a device token, a session — of which only digests are kept. `BrowserTokens`
is a base class of `ActivationService` (it needs only the service's store and clock)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.activation import StepAnswer
from services.kit.hashing import digest

from . import rules
from .domain import Account
from .flow import Step
from .store import Store

DEVICES, SESSIONS = 10, 20  # device and session digests kept per account (the latest)


@dataclass
class Answer:
    """A Step as the portal gets it, with what only HTTP may carry (tokens)."""

    step: Step
    challenge_required: bool = False
    retry_after_s: int | None = None
    token: str | None = None
    device_token: str | None = None

    def public(self) -> StepAnswer:
        return StepAnswer(accepted=self.step.accepted, reason=self.step.reason, next_step=self.step.next_step,
                          details=self.step.details, challenge_required=self.challenge_required,
                          retry_after_s=self.retry_after_s, token=self.token, device_token=self.device_token)


class BrowserTokens:
    """Tokens given to browsers (digests kept)."""

    store: Store
    clock: Callable[[], datetime]

    async def new_token(self, matricule: str, kind: str, validity: Any) -> tuple[str, str]:
        token = secrets.token_urlsafe(32)
        await self.store.put_token(digest(token), matricule, kind, self.clock() + validity)
        return token, digest(token)

    def new_device(self, acc: Account) -> str:
        device = secrets.token_urlsafe(32)
        acc["devices"] = [*acc.get("devices", []), digest(device)][-DEVICES:]
        return device

    async def open_session(self, acc: Account) -> tuple[str, datetime]:
        token, now = secrets.token_urlsafe(32), self.clock()
        expires = now + rules.SESSION_IDLE
        await self.store.put_session(digest(token), acc["_id"], now, expires)
        acc["sessions"] = [*acc.get("sessions", []), digest(token)][-SESSIONS:]
        return token, expires

    async def session(self, token: str, touch: bool = True) -> dict[str, Any] | None:
        now = self.clock()
        found = await self.store.session(digest(token))
        if not found or found["revoked"] or now >= found["expires_at"]:
            return None
        if touch:
            found["expires_at"] = now + rules.SESSION_IDLE
            await self.store.touch_session(found["_id"], found["expires_at"])
        return found
