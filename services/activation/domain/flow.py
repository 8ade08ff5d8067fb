"""The activation and login steps on one account document (a dict the store loads and saves), as pure functions:
the account, the facts the service layer gathered and `now` come in; the account changes in memory and a `Step`
comes out — the answer, and the notices to send.

The service layer checks every secret before it calls a step and passes the result in as a fact: a typed letter
code or password against its argon2 hash (`code_ok`, `password_ok`; `letter_code_hash` and `login_password_hash`
say which hash), a one-time code against its keyed hash (`otp_ok`), a LuxTrust assertion (`verified`). It also makes
what a step stores: a new password's hash, a fresh one-time code and its keyed hash (`NewOtp`). So no step awaits,
hashes or calls out; codes go into the notices' `sealed` part only, which the service seals for notify."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import account, rules
from .account import Account, OtpSlot

UNKNOWN_LETTER = ("this matricule and activation code do not match a valid letter; check both, or ask the helpdesk "
                  "for a new letter (a used or expired letter can be replaced)")


@dataclass
class Step:
    accepted: bool
    reason: str
    next_step: str | None = None
    details: dict[str, str] = field(default_factory=dict)
    notices: list[dict[str, Any]] = field(default_factory=list)  # notify requests; secrets under "sealed"
    activated: bool = False
    failed: bool = False  # a wrong guess of a secret (counted by the service)


def no(reason: str, next_step: str | None = None, failed: bool = False) -> Step:
    return Step(False, reason, next_step, failed=failed)


@dataclass(frozen=True)
class NewOtp:
    """A fresh one-time code and its keyed hash, made by the service for one account's slot at the step's `now`
    (the key never enters the domain): the code goes to the person, sealed; the hash into the account."""

    code: str
    hash: str


# the activation: start -> set-password -> choose-channel -> verify-otp -> link/skip LuxTrust -> confirm

def letter_code_hash(acc: Account | None, now: datetime) -> str | None:
    """The hash a typed letter code is checked against: None for an unknown matricule or a used or expired code
    (the service still runs the check, against nothing, so that every case takes as long)."""
    usable = acc is not None and not acc.get("code_used") and now < acc["code_expires_at"]
    return acc.get("code_hash") if acc is not None and usable else None


def start(acc: Account | None, code_ok: bool, terms_version: str, now: datetime) -> Step:
    """The letter's code (`code_ok`: it matched `letter_code_hash`). Unknown matricule, used, expired or wrong
    code: one answer (no enumeration)."""
    if not code_ok or acc is None:
        return no(UNKNOWN_LETTER, failed=True)
    acc.update({"state": "code-verified", "terms_version": terms_version})
    account.end_every_session(acc)  # a new letter's code (a forgotten password): whoever held a session, no more
    return Step(True, "activation code accepted", "set-password",
                {"minor": str(account.is_minor(acc["_id"], now.date())).lower()})


def password_refusal(acc: Account, password: str | None, common: frozenset[str]) -> Step | None:
    """set-password, before the new password is hashed: its refusal (`rules.password_problem`), or None."""
    problem = rules.password_problem(password or "", acc["_id"], common)
    return no(problem, "set-password") if problem else None


def set_password(acc: Account, password_hash: str) -> Step:
    """set-password, once `password_refusal` had none: `password_hash` is the hash of the password's NFKC form
    (`rules.normalize_password`)."""
    acc.update({"state": "password-set", "password_hash": password_hash})
    return Step(True, "password set", "choose-channel")


def choose_channel(acc: Account, channel: str | None, email: str | None, mobile: str | None,
                   person: Mapping[str, Any], otp: NewOtp, now: datetime) -> Step:
    """The channel of the one-time codes and its address (typed, or the registry's: `person`); the first code."""
    if channel not in ("email", "sms"):
        return no("choose e-mail or SMS for the one-time code", "choose-channel")
    address = (email or person.get("email")) if channel == "email" else (mobile or person.get("mobile"))
    if not address:
        return no(f"no {'e-mail address' if channel == 'email' else 'mobile number'} known; enter one",
                  "choose-channel")
    acc.update({"state": "otp-sent", "otp_channel": channel, "otp_address": address})
    return send_otp(acc, "otp", "verify-otp", channel, address, otp, now)


def send_otp(acc: Account, slot: OtpSlot, next_step: str, channel: str, address: str, otp: NewOtp,
             now: datetime) -> Step:
    """`otp` waits in the account's `slot` (its hash: 5 minutes, no try yet) and goes to `address`, sealed."""
    acc[slot] = {"hash": otp.hash, "expires_at": now + rules.OTP_VALIDITY, "tries": 0, "sent_at": now,
                 "channel": channel, "address": address}
    notice = {"channel": channel, "template_id": "one-time-code", "destination": address, "parameters": {},
              "sealed": {"code": otp.code}}
    return Step(True, "one-time code sent", next_step, {"sent_to": rules.mask_address(address)}, [notice])


def resend_otp(acc: Account, slot: OtpSlot, next_step: str, otp: NewOtp, now: datetime) -> Step:
    """A new code to the same address, a minute after the previous one at the earliest."""
    if not acc.get(slot):
        return no("no one-time code was sent yet", next_step)
    if now - acc[slot]["sent_at"] < rules.OTP_RESEND_AFTER:
        return no("a new code can be sent one minute after the previous one", next_step)
    return send_otp(acc, slot, next_step, acc[slot]["channel"], acc[slot]["address"], otp, now)


def check_otp(acc: Account, slot: OtpSlot, otp_ok: bool, now: datetime) -> str | None:
    """None if the code waiting in `slot` may be used and was typed right (`otp_ok`: it matched the slot's keyed
    hash). Wrong codes count per account across codes (`otp_failures`), never per code only."""
    otp = acc.get(slot)
    if not otp or otp.get("used"):
        return "no one-time code is waiting; ask for a new one"
    if now >= otp["expires_at"]:
        return "the one-time code has expired; ask for a new one"
    if otp["tries"] >= rules.MAX_OTP_TRIES:
        return "too many wrong one-time codes; ask for a new one"
    if not otp_ok:
        otp["tries"] += 1
        acc["otp_failures"], acc["otp_failed_at"] = acc.get("otp_failures", 0) + 1, now
        if acc["otp_failures"] >= rules.MAX_OTP_TRIES:
            otp["tries"] = rules.MAX_OTP_TRIES  # this code is spent; the next one waits the delay
        return "wrong one-time code"
    otp["used"] = True
    acc["otp_failures"], acc["otp_failed_at"] = 0, None
    return None


def otp_wait(acc: Account, now: datetime) -> int:
    """Seconds before the account's next one-time code may be tried (0: now)."""
    return rules.wait_left(acc.get("otp_failures", 0), acc.get("otp_failed_at"), now, rules.MAX_OTP_TRIES)


def verify_otp(acc: Account, otp_ok: bool, now: datetime) -> Step:
    problem = check_otp(acc, "otp", otp_ok, now)
    if problem:
        return no(problem, "verify-otp", failed=problem == "wrong one-time code")
    acc["state"] = "secured"
    return Step(True, "account secured", "link-luxtrust or skip-luxtrust")


def luxtrust(acc: Account, linked: bool, verified: bool) -> Step:
    """link-luxtrust (`linked`; `verified`: LuxTrust accepted the assertion) or skip-luxtrust."""
    if linked and not verified:
        return no("the LuxTrust assertion was not accepted", "link-luxtrust or skip-luxtrust")
    acc.update({"state": "luxtrust-done", "luxtrust": linked})
    return Step(True, "LuxTrust linked" if linked else "LuxTrust skipped", "confirm")


def confirm(acc: Account, now: datetime) -> Step:
    acc.update({"state": "active", "active": True, "code_used": True, "activated_at": now})
    account.end_every_session(acc)  # a re-activation ends every session opened before (a first one has none)
    minor = account.is_minor(acc["_id"], now.date())
    return Step(True, "account activated", None, {"minor": str(minor).lower()}, activated=True)


# the login: password -> one-time code (-> a session, opened by the service); or LuxTrust

def login_password_hash(acc: Account | None) -> str | None:
    """The hash a login's password is checked against: None for an unknown matricule or an inactive account (the
    service still runs the check, against nothing, so that timing does not tell them apart)."""
    return acc.get("password_hash") if acc is not None and acc.get("active") else None


def login(acc: Account | None, password_ok: bool, rehashed: str | None, channel: str | None,
          person: Mapping[str, Any], otp: NewOtp, now: datetime) -> Step:
    """The password (`password_ok`: it matched `login_password_hash`), then a one-time code to the account's
    channel, or to the registry's address (`person`) of the channel asked for. Unknown matricule, inactive
    account, wrong password: one answer. `rehashed`: the password hashed anew, its stored hash having been made
    under older parameters (stored from now on)."""
    if not password_ok or acc is None:
        return no("wrong matricule or password", failed=True)
    if rehashed is not None:
        acc["password_hash"] = rehashed
    channel = channel or acc["otp_channel"]
    address = acc["otp_address"] if channel == acc["otp_channel"] else person.get(
        "email" if channel == "email" else "mobile")
    if not address:
        return no(f"no {'e-mail address' if channel == 'email' else 'mobile number'} on file for this account")
    return send_otp(acc, "login_otp", "login-verify-otp", channel, address, otp, now)


def login_code(acc: Account, otp_ok: bool, now: datetime) -> Step:
    problem = check_otp(acc, "login_otp", otp_ok, now)
    if problem:
        return no(problem, "login-verify-otp", failed=problem == "wrong one-time code")
    return Step(True, "logged in")


def luxtrust_login(acc: Account | None, verified: bool) -> Step:
    """An active account whose LuxTrust assertion LuxTrust accepted (`verified`) logs in without a password."""
    if acc is None or not acc.get("active") or not verified:
        return no("the LuxTrust assertion was not accepted")
    return Step(True, "logged in")


# the password, once active

def password_change_refusal(acc: Account, password_ok: bool, new_password: str,
                            common: frozenset[str]) -> Step | None:
    """A password change, before the new one is hashed: the current one wrong (`password_ok`: it matched the
    account's hash) or the new one refused; else None."""
    if not password_ok:
        return no("the current password is wrong", failed=True)
    problem = rules.password_problem(new_password, acc["_id"], common)
    return no(problem) if problem else None


def change_password(acc: Account, password_hash: str) -> Step:
    """Once `password_change_refusal` had none: the new password's hash (of its NFKC form)."""
    acc["password_hash"] = password_hash
    account.end_every_session(acc)  # the caller keeps its own session (moved to the new generation)
    return Step(True, "password changed")


def forgot_letter_due(acc: Account | None, person: Mapping[str, Any], last_letter_at: datetime | None,
                      now: datetime) -> bool:
    """A forgotten password: a new letter goes to an active account of a person the registry knows, at most one a
    week (`rules.FORGOT_EVERY`, from `last_letter_at`). The answer is the same either way."""
    return bool(acc and acc.get("active") and person and not (
        last_letter_at and now - last_letter_at < rules.FORGOT_EVERY))
