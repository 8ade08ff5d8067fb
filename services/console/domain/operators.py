"""The console's operators as rules: their names and passwords, their roles (each may do what the ones before it
may), their sessions' lifetimes and the synchronizer CSRF check. Pure: no I/O."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field
from datetime import timedelta

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
