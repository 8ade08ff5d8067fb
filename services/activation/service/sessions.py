"""Sessions once open (`login.py` opens them): the check the gateway makes on every call, and logging out — one
session, or every session of the account ("log out everywhere": its session generation moves on)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from schemas.activation import SessionRequest
from services.kit.hashing import digest
from services.kit.turns import Turns

from ..domain import account, rules
from ..domain.flow import Step, no
from ..store.protocol import Doc, Store
from .answer import Answer
from .effects import Effects


class Sessions:
    def __init__(self, store: Store, lock: Turns, clock: Callable[[], datetime], effects: Effects) -> None:
        self.store, self.lock, self.clock, self.effects = store, lock, clock, effects

    async def check(self, token: str, touch: bool = True) -> Doc | None:
        """The open session of `token`, or None: unknown, ended by logout, idle for 30 minutes, opened more than
        12 hours ago (`rules.SESSION_MAX`, on the injected clock, however often it was used), or opened before
        every session of the account was ended (its generation below the account's `session_generation`).
        Two `_id` reads only: the session by its token's digest, then the account's generation by matricule
        (a projection of that one field). `touch` moves the idle end on, never past the 12 hours (stored when it
        moves by a minute or more: one write a minute for a session in use, not one a page)."""
        now = self.clock()
        found = await self.store.session(digest(token))
        if not found or found.get("revoked") or rules.session_ended(found["created_at"], found["expires_at"], now):
            return None
        current = await self.store.session_generation(found["matricule"])
        if current is None or found.get("generation", 0) < current:
            return None
        moved = rules.session_touch(found["created_at"], found["expires_at"], now) if touch else None
        if moved is not None:  # (a use within a minute of the last write leaves it: `rules.SESSION_TOUCH_STEP`)
            found["expires_at"] = moved
            await self.store.touch_session(found["_id"], moved)
        return found

    async def end(self, req: SessionRequest) -> Answer:
        """Log out: this session, or (`everywhere`) every session of the account, whatever their number and age."""
        session = await self.check(req.session_token, touch=False)
        if session is None:
            return Answer(no("not logged in (the session is unknown, expired or ended)"))
        async with self.lock(session["matricule"]):
            if req.everywhere:
                acc = await self.store.account(session["matricule"])
                if acc is not None:
                    account.end_every_session(acc)
                    await self.store.save_account(acc)
            await self.store.revoke_session(session["_id"])
            step = Step(True, "logged out everywhere" if req.everywhere else "logged out")
            await self.effects.publish("logout", session["matricule"], step, None, None)
            return Answer(step)
