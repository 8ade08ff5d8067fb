"""The activation and login steps on one account document (a dict the store loads and saves). The service
applies a person's steps one at a time (a lock per matricule); each step returns a Step: the answer, and the
notices to send. Secrets stay in memory: hashes go into the account, codes into sealed notices."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from services.kit.hashing import hash_secret, keyed, matches, needs_rehash, same_keyed

from . import account, rules
from .account import Account, OtpSlot

UNKNOWN_LETTER = ("this matricule and activation code do not match a valid letter; check both, or ask the helpdesk "
                  "for a new letter (a used or expired letter can be replaced)")


class LuxTrust(Protocol):
    """Verifies a LuxTrust assertion for a matricule (the real service is out of reach here)."""

    async def verify(self, assertion: str, matricule: str) -> bool: ...


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


@dataclass
class Flow:
    common_passwords: frozenset[str]
    luxtrust: LuxTrust
    now: datetime
    otp_key: bytes = b""  # one-time codes are kept as an HMAC under it (5 minutes, 5 tries: no slow hash needed)

    async def start(self, acc: Account | None, code: str, terms_version: str) -> Step:
        """The letter's code. Unknown matricule, used, expired or wrong code: one answer (no enumeration)."""
        usable = acc is not None and not acc.get("code_used") and self.now < acc["code_expires_at"]
        stored = acc.get("code_hash") if acc is not None and usable else None
        if not await matches(stored, rules.normalize_code(code)) or acc is None:
            return no(UNKNOWN_LETTER, failed=True)
        acc.update({"state": "code-verified", "terms_version": terms_version})
        account.end_every_session(acc)  # a new letter's code (a forgotten password): whoever held a session, no more
        return Step(True, "activation code accepted", "set-password",
                    {"minor": str(account.is_minor(acc["_id"], self.now.date())).lower()})

    async def set_password(self, acc: Account, password: str | None) -> Step:
        typed = rules.normalize_password(password or "")
        problem = rules.password_problem(password or "", acc["_id"], self.common_passwords)
        if problem:
            return no(problem, "set-password")
        acc.update({"state": "password-set", "password_hash": await hash_secret(typed)})
        return Step(True, "password set", "choose-channel")

    async def choose_channel(self, acc: Account, channel: str | None, email: str | None, mobile: str | None,
                             person: dict[str, Any]) -> Step:
        if channel not in ("email", "sms"):
            return no("choose e-mail or SMS for the one-time code", "choose-channel")
        address = (email or person.get("email")) if channel == "email" else (mobile or person.get("mobile"))
        if not address:
            return no(f"no {'e-mail address' if channel == 'email' else 'mobile number'} known; enter one",
                      "choose-channel")
        acc.update({"state": "otp-sent", "otp_channel": channel, "otp_address": address})
        return await self.send_otp(acc, "otp", "verify-otp", channel, address)

    async def send_otp(self, acc: Account, slot: OtpSlot, next_step: str, channel: str, address: str) -> Step:
        code = rules.new_otp()
        acc[slot] = {"hash": keyed(self.otp_key, acc["_id"], slot, str(int(self.now.timestamp())), code),
                     "expires_at": self.now + rules.OTP_VALIDITY, "tries": 0, "sent_at": self.now,
                     "channel": channel, "address": address}
        notice = {"channel": channel, "template_id": "one-time-code", "destination": address, "parameters": {},
                  "sealed": {"code": code}}
        return Step(True, "one-time code sent", next_step, {"sent_to": rules.mask_address(address)}, [notice])

    async def resend(self, acc: Account, slot: OtpSlot, next_step: str) -> Step:
        if not acc.get(slot):
            return no("no one-time code was sent yet", next_step)
        if self.now - acc[slot]["sent_at"] < rules.OTP_RESEND_AFTER:
            return no("a new code can be sent one minute after the previous one", next_step)
        return await self.send_otp(acc, slot, next_step, acc[slot]["channel"], acc[slot]["address"])

    async def check_otp(self, acc: Account, slot: OtpSlot, typed: str | None) -> str | None:
        """None if right. Wrong codes count per account across codes (`otp_failures`), never per code only."""
        otp = acc.get(slot)
        if not otp or otp.get("used"):
            return "no one-time code is waiting; ask for a new one"
        if self.now >= otp["expires_at"]:
            return "the one-time code has expired; ask for a new one"
        if otp["tries"] >= rules.MAX_OTP_TRIES:
            return "too many wrong one-time codes; ask for a new one"
        if not same_keyed(otp["hash"], self.otp_key, acc["_id"], slot, str(int(otp["sent_at"].timestamp())),
                          (typed or "").strip()):
            otp["tries"] += 1
            acc["otp_failures"], acc["otp_failed_at"] = acc.get("otp_failures", 0) + 1, self.now
            if acc["otp_failures"] >= rules.MAX_OTP_TRIES:
                otp["tries"] = rules.MAX_OTP_TRIES  # this code is spent; the next one waits the delay
            return "wrong one-time code"
        otp["used"] = True
        acc["otp_failures"], acc["otp_failed_at"] = 0, None
        return None

    def otp_wait(self, acc: Account) -> int:
        return rules.wait_left(acc.get("otp_failures", 0), acc.get("otp_failed_at"), self.now, rules.MAX_OTP_TRIES)

    async def step(self, acc: Account, command: str, code: str | None, assertion: str | None) -> Step:
        if command == "resend-otp":
            return await self.resend(acc, "otp", "verify-otp")
        if command == "verify-otp":
            problem = await self.check_otp(acc, "otp", code)
            if problem:
                return no(problem, "verify-otp", failed=problem == "wrong one-time code")
            acc["state"] = "secured"
            return Step(True, "account secured", "link-luxtrust or skip-luxtrust")
        if command in ("link-luxtrust", "skip-luxtrust"):
            linked = command == "link-luxtrust"
            if linked and not await self.luxtrust.verify(assertion or "", acc["_id"]):
                return no("the LuxTrust assertion was not accepted", "link-luxtrust or skip-luxtrust")
            acc.update({"state": "luxtrust-done", "luxtrust": linked})
            return Step(True, "LuxTrust linked" if linked else "LuxTrust skipped", "confirm")
        acc.update({"state": "active", "active": True, "code_used": True, "activated_at": self.now})
        account.end_every_session(acc)  # a re-activation ends every session opened before (a first one has none)
        minor = account.is_minor(acc["_id"], self.now.date())
        return Step(True, "account activated", None, {"minor": str(minor).lower()}, activated=True)

    async def login(self, acc: Account | None, password: str, channel: str | None,
                    person: dict[str, Any]) -> Step:
        """The password. Unknown matricule, inactive account, wrong password: one answer, comparable timing."""
        stored = acc.get("password_hash") if acc is not None and acc.get("active") else None
        if not await matches(stored, rules.normalize_password(password)) or acc is None:
            return no("wrong matricule or password", failed=True)
        if needs_rehash(stored):  # made under older parameters: the new ones from now on
            acc["password_hash"] = await hash_secret(rules.normalize_password(password))
        channel = channel or acc["otp_channel"]
        address = acc["otp_address"] if channel == acc["otp_channel"] else person.get(
            "email" if channel == "email" else "mobile")
        if not address:
            return no(f"no {'e-mail address' if channel == 'email' else 'mobile number'} on file for this account")
        return await self.send_otp(acc, "login_otp", "login-verify-otp", channel, address)

    async def login_code(self, acc: Account, code: str) -> Step:
        problem = await self.check_otp(acc, "login_otp", code)
        if problem:
            return no(problem, "login-verify-otp", failed=problem == "wrong one-time code")
        return Step(True, "logged in")

    async def change_password(self, acc: Account, password: str, new_password: str) -> Step:
        if not await matches(acc.get("password_hash"), rules.normalize_password(password)):
            return no("the current password is wrong", failed=True)
        problem = rules.password_problem(new_password, acc["_id"], self.common_passwords)
        if problem:
            return no(problem)
        acc["password_hash"] = await hash_secret(rules.normalize_password(new_password))
        account.end_every_session(acc)  # the caller keeps its own session (moved to the new generation)
        return Step(True, "password changed")
