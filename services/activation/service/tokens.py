"""The tokens given to browsers, of which only SHA-256 digests are kept: a flow or login token (it ties the next
step to the account it started on) and a device token (a browser the account logged in from: never delayed). The
session token is opened in `login.py` and checked in `sessions.py`."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from services.kit.hashing import digest

from ..domain.account import Account
from ..store.protocol import Store

DEVICES = 10  # device digests kept per account (the latest)


class Tokens:
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store, self.clock = store, clock

    async def new(self, matricule: str, kind: str, validity: timedelta) -> tuple[str, str]:
        """A flow or login token for `matricule`, valid `validity`: (the token, its digest)."""
        token = secrets.token_urlsafe(32)
        await self.store.put_token(digest(token), matricule, kind, self.clock() + validity)
        return token, digest(token)

    def new_device(self, acc: Account) -> str:
        """A device token; its digest joins the account's (saved with the account)."""
        device = secrets.token_urlsafe(32)
        acc["devices"] = [*acc.get("devices", []), digest(device)][-DEVICES:]
        return device
