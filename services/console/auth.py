"""Console operators and their sessions, in the console's own database `<prefix>_console` through its store
(`store.protocol.Store`; the login slow-down is `throttle`, the operators' audit trail `audit`):

- `operators`: `_id` = the operator's name, `role` (viewer | replayer), `password_hash` (argon2, through
  `services.kit.hashing`), `epoch` (a random value renewed with the password: sessions opened before a change end);
  created by `python -m services.console add-operator`, never through the web;
- `sessions`: `_id` = the SHA-256 of a random token that only the browser holds (an HttpOnly cookie), so the
  database alone opens no session; the operator, the synchronizer CSRF token, 30 minutes idle, 8 hours at most;

Every lookup is by `_id` (the only query FerretDB answers fast, see docs/infrastructure.md); expiry is done here
(FerretDB has no TTL index); all time comes from `clock`."""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from services.kit.hashing import digest, hash_secret, matches
from services.kit.runtime import Clock, utc_now

from .store.protocol import Store

log = structlog.get_logger("dsp.console.auth")

ROLES = ("viewer", "replayer")  # each role may do what the ones before it may
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MIN_PASSWORD, MAX_PASSWORD = 12, 1024
IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=8)
SLIDE_EVERY = timedelta(minutes=1)  # the idle deadline is pushed back at most once a minute (one write)
PURGE_EVERY = timedelta(minutes=10)
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


class OperatorError(ValueError):
    """An operator that cannot be created as asked (the message says why; never echoes a password)."""


class OperatorExists(OperatorError):
    pass


class NotLoggedIn(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Operator:
    name: str
    role: str
    epoch: str = field(default="", repr=False, compare=False)  # the password's generation, for new sessions

    def may(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True)
class Session:
    operator: Operator
    csrf: str
    id: str  # the token's digest

    def csrf_matches(self, supplied: str | None) -> bool:
        return bool(supplied) and hmac.compare_digest(self.csrf.encode(), (supplied or "").encode())


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise OperatorError("an operator name is 1-64 characters: lowercase letters, digits, '.', '_', '-', "
                            "starting with a letter or digit")
    return name


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise OperatorError(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


class Operators:
    def __init__(self, store: Store, clock: Clock = utc_now) -> None:
        self.store, self.clock = store, clock

    async def add(self, name: str, role: str, password: str, *, replace: bool = False) -> str:
        """'created' or 'replaced' (new password and role; the operator's sessions end); OperatorExists if the name
        is taken and `replace` was not asked for."""
        check_name(name)
        if role not in ROLES:
            raise OperatorError(f"a role is one of {', '.join(ROLES)}")
        check_password(password)
        doc = {"_id": name, "role": role, "password_hash": await hash_secret(password),
               "epoch": secrets.token_hex(8), "created_at": self.clock()}
        if not replace:
            if not await self.store.insert_operator(doc):
                raise OperatorExists(f"operator {name} exists; --replace changes its password and role")
            return "created"
        replaced = await self.store.replace_operator(doc)
        await self.store.delete_sessions_of(name)  # the old epoch refuses them anyway; tidy
        return "replaced" if replaced else "created"

    async def remove(self, name: str) -> bool:
        removed = await self.store.delete_operator(name)
        await self.store.delete_sessions_of(name)
        return removed

    async def all(self) -> list[dict[str, Any]]:
        docs = await self.store.operators()
        return sorted(({"name": d["_id"], "role": d.get("role"), "created_at": d.get("created_at")} for d in docs),
                      key=lambda d: str(d["name"]))

    async def get(self, name: str) -> dict[str, Any] | None:
        return await self.store.operator(name) if NAME.fullmatch(name) else None

    async def verify(self, name: str, password: str) -> tuple[Operator | None, bool]:
        """(the operator if the password is theirs, whether the name is an operator's); argon2 runs even for an
        unknown name, so that the time taken tells neither apart."""
        doc = await self.get(name)
        usable = doc is not None and doc.get("role") in ROLES and len(password) <= MAX_PASSWORD
        right = await matches(doc["password_hash"] if doc and usable else None, password[:MAX_PASSWORD])
        if doc is not None and usable and right:
            return Operator(doc["_id"], doc["role"], doc["epoch"]), True
        return None, doc is not None


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
