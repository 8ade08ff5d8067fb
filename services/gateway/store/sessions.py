"""The gateway's own store for professionals, in its database `<prefix>_gateway`:

- `pro_assertions`: every identity-provider assertion already used, `_id` = its `jti`, kept until it has expired
  (then the time check refuses it anyway): a replay is a duplicate `_id`, the one claim FerretDB makes reliably
  (INFRA.md) — whichever gateway replica sees it;
- `pro_sessions`: server-side sessions. The browser holds a random token (`secrets.token_urlsafe(32)`); only its
  SHA-256 is stored (`_id`), so the database alone opens no session. 30 minutes idle, 8 hours at most, revocable.

Every lookup is by `_id` (the only fast query on FerretDB); expiry is done here, not by TTL indexes (FerretDB
has none), and the purge of what has expired runs now and then after a login. All time comes from `clock`."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.kit.runtime import Clock, utc_now

log = structlog.get_logger("dsp.gateway.pro")
IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=8)
SLIDE_EVERY = timedelta(minutes=1)  # a session's idle deadline is pushed back at most once a minute (one write)
PURGE_EVERY = timedelta(minutes=10)
KEEP_USED_ASSERTIONS = timedelta(minutes=5)  # past their expiry: margin for replicas whose clocks differ
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


class SessionRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Opened:
    token: str
    expires: datetime
    absolute: datetime


class ProStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], clock: Clock = utc_now) -> None:
        self.assertions, self.sessions, self.clock = db["pro_assertions"], db["pro_sessions"], clock
        self._purged: datetime | None = None

    async def use_assertion(self, jti: str, professional_id: str, expires: datetime) -> bool:
        """Remember the assertion `jti`; False if it was already used (a replay)."""
        try:
            await self.assertions.insert_one({"_id": jti, "professional_id": professional_id, "expires": expires,
                                              "used_at": self.clock()})
        except DuplicateKeyError:
            log.warning("professional assertion replayed", professional_id=professional_id)
            return False
        return True

    async def open(self, professional_id: str) -> Opened:
        token, now = secrets.token_urlsafe(32), self.clock()
        opened = Opened(token, now + IDLE, now + ABSOLUTE)
        await self.sessions.insert_one({"_id": digest(token), "professional_id": professional_id, "created": now,
                                        "last_seen": now, "expires": opened.expires, "absolute": opened.absolute,
                                        "revoked": False})
        return opened

    async def professional(self, token: str | None) -> str:
        """The professional of a live session (its idle deadline pushed back), else SessionRefused."""
        if not token or not TOKEN.fullmatch(token):
            raise SessionRefused("not logged in as a professional")
        session = await self.sessions.find_one({"_id": digest(token)})
        if session is None:
            raise SessionRefused("not logged in as a professional")
        if session.get("revoked"):
            raise SessionRefused("this professional session has ended; log in again")
        now = self.clock()
        if now >= session["expires"] or now >= session["absolute"]:
            raise SessionRefused("this professional session has expired; log in again")
        later = min(now + IDLE, session["absolute"])
        if later - session["expires"] >= SLIDE_EVERY:
            await self.sessions.update_one({"_id": session["_id"]}, {"$set": {"expires": later, "last_seen": now}})
        return str(session["professional_id"])

    async def revoke(self, token: str | None) -> bool:
        """End a session for good (logout); False if there was none under this token."""
        if not token or not TOKEN.fullmatch(token):
            return False
        now = self.clock()
        done = await self.sessions.update_one({"_id": digest(token)},
                                              {"$set": {"revoked": True, "revoked_at": now, "expires": now}})
        return done.matched_count > 0

    def purge_due(self) -> bool:
        now = self.clock()
        if self._purged is not None and now - self._purged < PURGE_EVERY:
            return False
        self._purged = now
        return True

    async def purge(self) -> None:
        """Forget expired sessions and the assertions that can no longer be replayed (they have expired)."""
        now = self.clock()
        try:
            sessions = await self.sessions.delete_many({"expires": {"$lte": now}})
            used = await self.assertions.delete_many({"expires": {"$lt": now - KEEP_USED_ASSERTIONS}})
        except Exception as exc:  # noqa: BLE001 - a later purge does it; never fails a login
            log.warning("purging professional sessions failed", error=type(exc).__name__)
            return
        if sessions.deleted_count or used.deleted_count:
            log.info("professional sessions purged", sessions=sessions.deleted_count, assertions=used.deleted_count)
