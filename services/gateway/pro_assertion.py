"""The professional identity provider's assertion (pure: no I/O). The real eHealth identity provider is out of
scope: its assertion is modelled as `payload.signature`, payload = base64url JSON {"sub": professional id, "iat":
issued, "exp": expires (unix times), "jti": its unique id}, signature = HMAC-SHA256 under a key shared with it
(`DSP_GATEWAY_PRO_IDP_KEY`). An assertion lives at most 5 minutes (`exp - iat`) and is not issued in the future
(30 s of clock skew allowed); single use is the login's (`professional.py`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, TypeGuard

from schemas.fields import IDENTIFIER_PATTERN

ASSERTION_MAX_S = 300
CLOCK_SKEW_S = 30
SUBJECT = re.compile(IDENTIFIER_PATTERN)  # a directory id (schemas.fields.Identifier)
JTI = re.compile(r"[A-Za-z0-9._:-]{8,128}")
NOT_VALID = "the assertion is not valid"


class AssertionRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Claims:
    subject: str
    issued: int
    expires: int
    jti: str


def sign_claims(key: bytes, claims: dict[str, Any]) -> str:
    """`claims` signed as the identity provider signs them (tests and tools make assertions with it)."""
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    signature = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{signature}"


def sign(key: bytes, subject: str, expires: int, *, issued: int | None = None, jti: str | None = None) -> str:
    """An assertion for `subject` until `expires`: issued now unless told, a fresh random `jti` unless told."""
    return sign_claims(key, {"sub": subject, "iat": int(time.time()) if issued is None else issued,
                             "exp": expires, "jti": jti or secrets.token_urlsafe(16)})


def _number(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def check_assertion(key: bytes, token: str, now: float) -> Claims:
    """The claims of a well-signed assertion that may be used at `now`, else AssertionRefused with the reason.
    The signature is checked in constant time, first; nothing about the claims is told before it holds. Single
    use is the caller's: it remembers `jti`."""
    payload, _, signature = token.partition(".")
    if not payload.isascii() or not re.fullmatch(r"[0-9a-f]{64}", signature):
        raise AssertionRefused(NOT_VALID)  # (compare_digest refuses non-ASCII text: schemathesis found that one)
    expected = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise AssertionRefused(NOT_VALID)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        raise AssertionRefused(NOT_VALID) from None
    if not isinstance(claims, dict):
        raise AssertionRefused(NOT_VALID)
    subject, issued, expires, jti = (claims.get(k) for k in ("sub", "iat", "exp", "jti"))
    if not isinstance(subject, str) or not SUBJECT.fullmatch(subject):
        raise AssertionRefused("the assertion has no valid sub (the professional's directory id)")
    if not _number(issued) or not _number(expires):
        raise AssertionRefused("the assertion needs iat and exp (unix times)")
    if not isinstance(jti, str) or not JTI.fullmatch(jti):
        raise AssertionRefused("the assertion needs a jti (8-128 characters of A-Z a-z 0-9 . _ : -)")
    if expires <= now:
        raise AssertionRefused("the assertion has expired")
    if issued > now + CLOCK_SKEW_S:
        raise AssertionRefused("the assertion is issued in the future")
    if not 0 < expires - issued <= ASSERTION_MAX_S:
        raise AssertionRefused(f"an assertion must live at most {ASSERTION_MAX_S} seconds (exp - iat)")
    return Claims(subject, issued, expires, jti)
