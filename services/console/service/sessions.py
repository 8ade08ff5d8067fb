"""The use case "an operator's session": opened at login (a new token each time: no fixation), found for every
request (sliding its idle end, never past its absolute end; ended by a new password or role), revoked at logout.
`_id` = the SHA-256 of a random token that only the browser holds (an HttpOnly cookie), so the database alone opens
no session; expired ones are purged now and then (FerretDB has no TTL index); all time comes from `clock`."""

from __future__ import annotations

import secrets
from datetime import datetime

import structlog

from services.kit.hashing import digest
from services.kit.runtime import Clock, utc_now

from ..domain.operators import ABSOLUTE, IDLE, PURGE_EVERY, ROLES, SLIDE_EVERY, TOKEN, NotLoggedIn, Operator, Session
from ..store.protocol import Store
from .operators import Operators

log = structlog.get_logger("dsp.console.auth")


class Sessions:
    def __init__(self, store: Store, operators: Operators, clock: Clock = utc_now) -> None:
        self.store, self.operators, self.clock = store, operators, clock
        self._purged: datetime | None = None

    async def open(self, operator: Operator) -> tuple[str, Session]:
        """A new session (a new token at every login: no fixation); the token goes to the cookie only."""
        token, now = secrets.token_urlsafe(32), self.clock()
        session = Session(operator, secrets.token_urlsafe(32), digest(token))
        await self.store.insert_session({"_id": session.id, "operator": operator.name, "epoch": operator.epoch,
                                        "csrf": session.csrf, "created": now, "last_seen": now,
                                        "expires": now + IDLE, "absolute": now + ABSOLUTE, "revoked": False})
        await self._purge_now_and_then()
        return token, session

    async def find(self, token: str | None, *, touch: bool = True) -> Session:
        """The live session of `token` with its operator's current role, else NotLoggedIn. `touch` pushes the idle
        deadline back (a request by the operator); a server-sent event stream checks without touching."""
        if not token or not TOKEN.fullmatch(token):
            raise NotLoggedIn("not logged in")
        doc = await self.store.session(digest(token))
        if doc is None or doc.get("revoked"):
            raise NotLoggedIn("not logged in")
        now = self.clock()
        if now >= doc["expires"] or now >= doc["absolute"]:
            raise NotLoggedIn("the session has expired; log in again")
        operator = await self.operators.get(doc["operator"])
        if operator is None or operator.get("epoch") != doc.get("epoch") or operator.get("role") not in ROLES:
            raise NotLoggedIn("the operator was changed or removed; log in again")
        later = min(now + IDLE, doc["absolute"])
        if touch and later - doc["expires"] >= SLIDE_EVERY:
            await self.store.update_session(doc["_id"], {"expires": later, "last_seen": now})
        return Session(Operator(operator["_id"], operator["role"], operator["epoch"]), doc["csrf"], doc["_id"])

    async def revoke(self, session: Session) -> None:
        now = self.clock()
        await self.store.update_session(session.id, {"revoked": True, "expires": now, "revoked_at": now})

    async def _purge_now_and_then(self) -> None:
        now = self.clock()
        if self._purged is not None and now - self._purged < PURGE_EVERY:
            return
        self._purged = now
        try:
            await self.store.purge_sessions(now)
        except Exception as exc:  # noqa: BLE001 - a later purge does it; never fails a login
            log.warning("purging console sessions failed", error=type(exc).__name__)
