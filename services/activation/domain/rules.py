"""Activation's rules (DOMAIN.md, "Account activation" and "Rules the code enforces"). Pure: time and keys
come in; the secrets are hashed and checked by the service layer (`services/kit/hashing.py`).

- activation code: 12 characters from an unambiguous alphabet (~59 bits), derived by HMAC from a server key,
  the matricule and the letter's generation — so a redelivered registry message re-sends the same letter,
  and a re-issue (generation + 1) retires the old code; stored hashed; 90 days; 5 wrong tries lock it;
- one-time code: 6 digits, 5 minutes, single use, 5 wrong tries per account across codes, resent at most once
  a minute;
- failed attempts (activation code, password, one-time code) never lock, and a stranger's failures never keep
  the owner out (`GUARDS`, `gate`): from the 3rd failure on a matricule (anyone's) an attempt needs a solved
  challenge (the letter's code always does) and the owner is told of repeated failures; the increasing delay
  (1 s, 2 s, 4 s ... capped at 15 minutes) counts the failures of one client address on that matricule, so a
  stranger's failures delay only the stranger; a device the account logged in from before is not delayed; the
  logged-in owner's current password (a password change) needs no challenge and has its own delay per account,
  which no login failure affects;
- sessions: 30 minutes idle, 12 hours at most from login however often they are used (`SESSION_MAX`); the idle
  end is stored again only when a use moves it on by `SESSION_TOUCH_STEP` (a minute) or more — a portal page
  is one session check, and a session used every second costs one write a minute, not one a page — so a session
  ends 29 to 30 minutes after its last use; a
  password change, a new letter's code, a re-activation and "log out everywhere" end every session of the
  account (`account.end_every_session`: the account's session generation moves on);
- password (after NFKC, which `normalize_password` also applies before hashing and verifying): >= 8 visible
  characters, a letter, a digit, no invisible or control character, no leading or trailing space, not the
  matricule nor its first 11 digits, not the birth date in any usual form, not a common password;
- the steps in order: start -> set-password -> choose-channel -> verify-otp -> link/skip LuxTrust -> confirm.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from schemas.fields import matricule_birth_date

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L
CODE_VALIDITY = timedelta(days=90)
OTP_VALIDITY = timedelta(minutes=5)
MAX_OTP_TRIES = 5
OTP_RESEND_AFTER = timedelta(seconds=60)
SESSION_IDLE = timedelta(minutes=30)
SESSION_MAX = timedelta(hours=12)  # from login, whatever the touches
SESSION_TOUCH_STEP = timedelta(minutes=1)  # the stored idle end moves on by at least this much, or is not written
FLOW_VALIDITY = timedelta(hours=1)
LOGIN_VALIDITY = timedelta(minutes=10)
CHALLENGE_AFTER = 3  # failures on a matricule: then a challenge; failures of one address on it: then a delay
MAX_DELAY = timedelta(minutes=15)
TELL_OWNER_AT = (3, 10, 25, 50, 100)  # failure counts at which the owner is told
FORGOT_EVERY = timedelta(days=7)  # at most one forgotten-password letter a week

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


@dataclass(frozen=True)
class Guard:
    """How one kind of guessable secret is guarded: when an attempt needs a solved challenge (`always`, from
    the `CHALLENGE_AFTER`-th failure on the matricule, or `never`), whether the delay after failures counts the
    failures of each client address (a stranger's failures then delay only the stranger) or of the account, and
    whether the owner is told of repeated failures."""

    challenge: Literal["always", "after-failures", "never"]
    wait_per_client: bool
    tell_owner: bool


GUARDS = {
    "code": Guard("always", wait_per_client=True, tell_owner=True),  # the letter's code, at start
    "login": Guard("after-failures", wait_per_client=True, tell_owner=True),  # the password, at login
    # the current password, asked of a logged-in owner changing it: only a session holder can fail it
    "current-password": Guard("never", wait_per_client=False, tell_owner=False),
}


@dataclass(frozen=True)
class Gate:
    """Before an attempt is evaluated: seconds it must still wait (0: none), and whether it needs a challenge."""

    wait_s: int
    challenge: bool


def gate(guard: Guard, failures: int, waited: int, last_failure: datetime | None, now: datetime,
         trusted: bool) -> Gate:
    """`failures`: on the matricule, by anyone (the challenge); `waited`, `last_failure`: the failures counted for
    the delay — this client address's on the matricule, or the account's (`Guard.wait_per_client`). A trusted
    device (the account logged in from it before) never waits."""
    wait = 0 if trusted else wait_left(waited, last_failure, now)
    return Gate(wait, challenge_needed(guard, failures))


def challenge_needed(guard: Guard, failures: int) -> bool:
    return guard.challenge == "always" or (guard.challenge == "after-failures" and failures >= CHALLENGE_AFTER)


def delay(failures: int, after: int = CHALLENGE_AFTER) -> timedelta:
    """How long after the last failure the next attempt waits: 0, then 1 s, 2 s, 4 s ... at most 15 minutes."""
    if failures < after:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(failures - after, 20)), MAX_DELAY)


def wait_left(failures: int, last_failure: datetime | None, now: datetime, after: int = CHALLENGE_AFTER) -> int:
    """Whole seconds the next attempt must still wait (0: it may go ahead). Below `after` failures there is no delay
    at all, whenever the last failure was (a clock set back must not turn an early failure into a wait)."""
    if last_failure is None or failures < after:
        return 0
    left = (last_failure + delay(failures, after) - now).total_seconds()
    return max(0, math.ceil(left))


def session_ended(created_at: datetime, expires_at: datetime, now: datetime) -> bool:
    """Idle too long (`expires_at`, moved on at each use), or opened more than `SESSION_MAX` ago."""
    return now >= expires_at or now >= created_at + SESSION_MAX


def session_expiry(created_at: datetime, now: datetime) -> datetime:
    """When a session used at `now` ends if it is not used again: 30 minutes on, never past its 12 hours."""
    return min(now + SESSION_IDLE, created_at + SESSION_MAX)


def session_touch(created_at: datetime, expires_at: datetime, now: datetime) -> datetime | None:
    """The idle end to store for a use at `now`, or None when it would move on by less than `SESSION_TOUCH_STEP`
    (the stored one stands: the session then ends at most that much earlier than 30 minutes after this use)."""
    moved = session_expiry(created_at, now)
    return moved if moved - expires_at >= SESSION_TOUCH_STEP else None


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


# Invisible yet not "format" characters: fillers that render as nothing, joiners and variation selectors.
INVISIBLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180e\u2800\u3164\uffa0"
                      + "".join(map(chr, range(0x200b, 0x2010))) + "".join(map(chr, range(0x2060, 0x2070)))
                      + "".join(map(chr, range(0xfe00, 0xfe10))) + "\ufeff")
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})  # control, format, separators, ...
DATE_SEPARATOR = r"[./\- ]{1,3}"


def normalize_password(text: str) -> str:
    """The form a password is checked, hashed and verified in (NFKC): full-width, compatibility and composed
    characters become the ones a keyboard types, so the same password typed anywhere gives the same hash."""
    return unicodedata.normalize("NFKC", text)


def _ascii_digits(text: str) -> str:
    """`text` with every decimal digit (Arabic-Indic, Devanagari, ...) written in ASCII, for comparisons."""
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


def _birth_date_pattern(matricule: str) -> re.Pattern[str] | None:
    """The birth date of a matricule (YYYYMMDD...) as DMY, YMD and MDY, years of 4 or 2 digits: unseparated
    (19900214, 14021990, 140290, 900214, 02141990) or separated by . - / or spaces, with or without the
    leading zeros (14.02.1990, 1990-2-14, 14/2/90)."""
    if not re.fullmatch(r"\d{13}", matricule):
        return None
    try:
        born = matricule_birth_date(matricule)
    except ValueError:
        return None
    y4, y2, mm, dd = f"{born.year:04d}", f"{born.year % 100:02d}", f"{born.month:02d}", f"{born.day:02d}"
    year, s = f"(?:{y4}|{y2})", DATE_SEPARATOR
    month, day = (f"0?{n}" if n < 10 else str(n) for n in (born.month, born.day))  # 2 or 02, 14
    forms = [f"{dd}{mm}{year}", f"{year}{mm}{dd}", f"{mm}{dd}{year}",
             f"{day}{s}{month}{s}{year}", f"{year}{s}{month}{s}{day}", f"{month}{s}{day}{s}{year}"]
    return re.compile("|".join(f"(?:{f})" for f in forms))


def password_problem(password: str, matricule: str, common: frozenset[str]) -> str | None:
    """Why a password is refused, or None. The rules apply to its NFKC form (`normalize_password`)."""
    text = normalize_password(password)
    if any(c in INVISIBLE or unicodedata.category(c) in REFUSED_CATEGORIES or (c.isspace() and c != " ")
           for c in text):
        return "the password must not contain invisible or control characters"
    if text != text.strip():
        return "the password must not start or end with a space"
    if len(text.replace(" ", "")) < 8:
        return "the password needs at least 8 characters"
    if not re.search(r"[^\W\d_]", text):
        return "the password needs at least one letter"
    if not re.search(r"\d", text):
        return "the password needs at least one digit"
    digits = _ascii_digits(text.lower())
    compact = re.sub(DATE_SEPARATOR, "", digits)
    if matricule and (matricule in digits or (len(matricule) == 13 and matricule[:11] in compact)):
        return "the password must not contain the matricule"
    born = _birth_date_pattern(matricule)
    if born is not None and born.search(digits):
        return "the password must not contain the birth date"
    if text.lower() in common:
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
