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

from .domain import rules
from .domain.account import Account
from .domain.flow import Step
from .store.protocol import Store

DEVICES = 10  # device digests kept per account (the latest)


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
        """A new session, under the account's current session generation (no list of sessions is kept: ending
        them all is `account.end_every_session`)."""
        token, now = secrets.token_urlsafe(32), self.clock()
        expires = rules.session_expiry(now, now)
        await self.store.put_session(digest(token), acc["_id"], now, expires, acc.get("session_generation", 0))
        acc.pop("sessions", None)  # the list older documents kept
        return token, expires

    async def session(self, token: str, touch: bool = True) -> dict[str, Any] | None:
        """The open session of `token`, or None: unknown, ended by logout, idle for 30 minutes, opened more than
        12 hours ago (`rules.SESSION_MAX`, on the injected clock, however often it was used), or opened before
        every session of the account was ended (its generation below the account's `session_generation`).
        Two `_id` reads only: the session by its token's digest, then the account's generation by matricule
        (a projection of that one field). `touch` moves the idle end on, never past the 12 hours."""
        now = self.clock()
        found = await self.store.session(digest(token))
        if not found or found.get("revoked") or rules.session_ended(found["created_at"], found["expires_at"], now):
            return None
        current = await self.store.session_generation(found["matricule"])
        if current is None or found.get("generation", 0) < current:
            return None
        if touch:
            found["expires_at"] = rules.session_expiry(found["created_at"], now)
            await self.store.touch_session(found["_id"], found["expires_at"])
        return found
