"""The use case "console operators": created, replaced and removed by the CLI (`cli.py`), a login's password
checked — in the console's own database `<prefix>_console` through its store (`store.protocol.Store`; the rules are
`domain.operators`, sessions `sessions.py`, the login slow-down `throttle.py`, the operators' audit trail
`audit.py`):

- `operators`: `_id` = the operator's name, `role` (viewer | replayer), `password_hash` (argon2, through
  `services.kit.hashing`), `epoch` (a random value renewed with the password: sessions opened before a change end);
  created by `python -m services.console add-operator`, never through the web;
- `sessions`: `_id` = the SHA-256 of a random token that only the browser holds (an HttpOnly cookie), so the
  database alone opens no session; the operator, the synchronizer CSRF token, 30 minutes idle, 8 hours at most;

Every lookup is by `_id` (the only query FerretDB answers fast, see docs/infrastructure.md); expiry is done here
(FerretDB has no TTL index); all time comes from `clock`."""

from __future__ import annotations

import secrets
from typing import Any

import structlog

from services.kit.hashing import hash_secret, matches
from services.kit.runtime import Clock, utc_now

from ..domain.operators import (
    MAX_PASSWORD,
    NAME,
    ROLES,
    Operator,
    OperatorError,
    OperatorExists,
    check_name,
    check_password,
)
from ..store.protocol import Store

log = structlog.get_logger("dsp.console.auth")


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
