"""Activation's rules (DOMAIN.md, "Account activation" and "Rules the code enforces"). Pure: time and keys
come in; hashing is in `secrets_.py`.

- activation code: 12 characters from an unambiguous alphabet (~59 bits), derived by HMAC from a server key,
  the matricule and the letter's generation — so a redelivered registry message re-sends the same letter,
  and a re-issue (generation + 1) retires the old code; stored hashed; 90 days; 5 wrong tries lock it;
- one-time code: 6 digits, 5 minutes, single use, 5 tries, resent at most once a minute;
- password: >= 8 characters, a letter, a digit, not the matricule, not a common password;
- the steps in order: start -> set-password -> choose-channel -> verify-otp -> link/skip LuxTrust -> confirm.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L
CODE_VALIDITY = timedelta(days=90)
MAX_CODE_TRIES = 5
OTP_VALIDITY = timedelta(minutes=5)
MAX_OTP_TRIES = 5
OTP_RESEND_AFTER = timedelta(seconds=60)
MAX_LOGIN_FAILURES = 5
SESSION_IDLE = timedelta(minutes=30)

# state -> the steps allowed in it (the flow is linear; a step out of order is refused with the expected one)
NEXT = {
    "code-verified": ("set-password",),
    "password-set": ("set-password", "choose-channel"),
    "otp-sent": ("choose-channel", "resend-otp", "verify-otp"),
    "secured": ("link-luxtrust", "skip-luxtrust"),
    "luxtrust-done": ("confirm",),
}
EXPECTED = {"code-verified": "set-password", "password-set": "choose-channel", "otp-sent": "verify-otp",
            "secured": "link-luxtrust or skip-luxtrust", "luxtrust-done": "confirm"}


def activation_code(key: bytes, matricule: str, generation: int) -> str:
    """The letter's code: XXXX-XXXX-XXXX, derived from the server key (never stored in clear)."""
    n = int.from_bytes(hmac.new(key, f"{matricule}|{generation}".encode(), hashlib.sha256).digest(), "big")
    chars = []
    for _ in range(12):
        n, r = divmod(n, len(ALPHABET))
        chars.append(ALPHABET[r])
    return "-".join("".join(chars[i:i + 4]) for i in (0, 4, 8))


def normalize_code(typed: str) -> str:
    plain = re.sub(r"[\s-]", "", typed).upper()
    return "-".join(plain[i:i + 4] for i in range(0, len(plain), 4))


def new_otp() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def password_problem(password: str, matricule: str, common: frozenset[str]) -> str | None:
    """Why a password is refused, or None."""
    if len(password) < 8:
        return "the password needs at least 8 characters"
    if not re.search(r"[^\W\d_]", password):
        return "the password needs at least one letter"
    if not re.search(r"\d", password):
        return "the password needs at least one digit"
    if matricule in password:
        return "the password must not contain the matricule"
    if password.lower() in common:
        return "this password is too common"
    return None


def step_refusal(state: str, step: str) -> str | None:
    """None if `step` may run in `state`, else the reason."""
    if step in NEXT.get(state, ()):
        return None
    if state == "active":
        return "the account is already active"
    if state not in NEXT:
        return "start the activation with the letter's code first"
    return f"step out of order: {EXPECTED[state]} comes next"


def mask_address(address: str) -> str:
    """m***@example.lu, +352******456: enough for the person to recognise it, not for a log to leak it."""
    if "@" in address:
        user, _, domain = address.partition("@")
        return f"{user[:1]}***@{domain}"
    return address[:4] + "*" * max(0, len(address) - 7) + address[-3:]
