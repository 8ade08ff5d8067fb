"""The activation and login steps on one account document. The account's partition has one consumer, so a
person's steps are applied one at a time; each returns a Step (the answer) and the notices to send."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from schemas.activation import ChooseChannel, FlowStep, Helpdesk, Login, SessionCommand, SetPassword, StartActivation
from services.kit.hashing import digest, hash_secret, matches, same_digest

from . import domain, rules


class LuxTrust(Protocol):
    """Verifies a LuxTrust assertion for a matricule (the real service is out of reach here)."""

    async def verify(self, assertion: str, matricule: str) -> bool: ...


@dataclass
class Step:
    accepted: bool
    reason: str
    next_step: str | None = None
    details: dict[str, str] = field(default_factory=dict)
    notices: list[dict[str, Any]] = field(default_factory=list)  # notify requests (secrets stay in memory)
    activated: bool = False
    session: tuple[str, datetime] | None = None  # (token digest, expires at) to store


def no(reason: str, next_step: str | None = None) -> Step:
    return Step(False, reason, next_step)


@dataclass
class Flow:
    common_passwords: frozenset[str]
    luxtrust: LuxTrust
    captcha_ok: Callable[[str, str], Any]  # async (captcha_id, answer) -> bool, single use
    now: datetime

    async def start(self, acc: dict[str, Any], cmd: StartActivation) -> Step:
        if acc.get("code_locked"):
            return no("the activation code is locked after 5 wrong tries; ask the helpdesk for a new letter")
        if acc.get("code_used") or self.now >= acc["code_expires_at"]:
            return no("the activation code has expired or was used; ask the helpdesk for a new letter")
        if not await self.captcha_ok(cmd.captcha_id, cmd.captcha_answer):
            return no("the captcha answer is wrong or expired; copy a new one")
        if not await matches(acc["code_hash"], rules.normalize_code(cmd.activation_code)):
            acc["code_failures"] = acc.get("code_failures", 0) + 1
            acc["code_locked"] = acc["code_failures"] >= rules.MAX_CODE_TRIES
            left = rules.MAX_CODE_TRIES - acc["code_failures"]
            return no("wrong activation code" + (f"; {left} tries left" if left else "; the code is now locked"))
        acc.update(state="code-verified", flow_hash=digest(cmd.flow_id), terms_version=cmd.terms_version,
                   code_failures=0)
        return Step(True, "activation code accepted", "set-password",
                    {"minor": str(domain.is_minor(acc["_id"], self.now.date())).lower()})

    def flow_refusal(self, acc: dict[str, Any], flow_id: str, step: str) -> str | None:
        if not same_digest(acc.get("flow_hash"), flow_id):
            return "this activation was not started here; start again with the letter's code"
        return rules.step_refusal(acc.get("state", ""), step)

    async def set_password(self, acc: dict[str, Any], cmd: SetPassword) -> Step:
        problem = rules.password_problem(cmd.password, acc["_id"], self.common_passwords)
        if problem:
            return no(problem, "set-password")
        acc.update(state="password-set", password_hash=await hash_secret(cmd.password))
        return Step(True, "password set", "choose-channel")

    async def choose_channel(self, acc: dict[str, Any], cmd: ChooseChannel, person: dict[str, Any]) -> Step:
        address = (cmd.email or person.get("email")) if cmd.channel == "email" else (cmd.mobile or person.get("mobile"))
        if not address:
            return no(f"no {'e-mail address' if cmd.channel == 'email' else 'mobile number'} known; enter one",
                      "choose-channel")
        acc.update(state="otp-sent", otp_channel=cmd.channel, otp_address=address)
        return await self.send_otp(acc, "otp", "verify-otp", cmd.channel, address)

    async def send_otp(self, acc: dict[str, Any], slot: str, next_step: str, channel: str, address: str) -> Step:
        code = rules.new_otp()
        acc[slot] = {"hash": await hash_secret(code), "expires_at": self.now + rules.OTP_VALIDITY, "tries": 0,
                     "sent_at": self.now, "channel": channel, "address": address}
        notice = {"channel": channel, "template_id": "one-time-code", "destination": address,
                  "parameters": {"code": code}}
        return Step(True, "one-time code sent", next_step, {"sent_to": rules.mask_address(address)}, [notice])

    async def resend(self, acc: dict[str, Any], slot: str, next_step: str) -> Step:
        if self.now - acc[slot]["sent_at"] < rules.OTP_RESEND_AFTER:
            return no("a new code can be sent one minute after the previous one", next_step)
        return await self.send_otp(acc, slot, next_step, acc[slot]["channel"], acc[slot]["address"])

    async def check_otp(self, acc: dict[str, Any], slot: str, typed: str | None) -> str | None:
        otp = acc.get(slot)
        if not otp or otp.get("used"):
            return "no one-time code is waiting; ask for a new one"
        if self.now >= otp["expires_at"]:
            return "the one-time code has expired; ask for a new one"
        if otp["tries"] >= rules.MAX_OTP_TRIES:
            return "too many wrong one-time codes; ask for a new one"
        if not await matches(otp["hash"], (typed or "").strip()):
            otp["tries"] += 1
            return "wrong one-time code"
        otp["used"] = True
        return None

    async def step(self, acc: dict[str, Any], cmd: FlowStep) -> Step:
        if cmd.command == "resend-otp":
            return await self.resend(acc, "otp", "verify-otp")
        if cmd.command == "verify-otp":
            problem = await self.check_otp(acc, "otp", cmd.code)
            if problem:
                return no(problem, "verify-otp")
            acc["state"] = "secured"
            return Step(True, "account secured", "link-luxtrust or skip-luxtrust")
        if cmd.command in ("link-luxtrust", "skip-luxtrust"):
            linked = cmd.command == "link-luxtrust"
            if linked and not await self.luxtrust.verify(cmd.luxtrust_assertion or "", acc["_id"]):
                return no("the LuxTrust assertion was not accepted", "link-luxtrust or skip-luxtrust")
            acc.update(state="luxtrust-done", luxtrust=linked)
            return Step(True, "LuxTrust linked" if linked else "LuxTrust skipped", "confirm")
        acc.update(state="active", active=True, code_used=True, activated_at=self.now, login_failures=0,
                   login_locked=False)
        minor = domain.is_minor(acc["_id"], self.now.date())
        return Step(True, "account activated", None, {"minor": str(minor).lower()}, activated=True)

    async def login(self, acc: dict[str, Any], cmd: Login, person: dict[str, Any]) -> Step:
        if not acc.get("active"):
            return no("no active account for this matricule; activate it with the letter's code first")
        if acc.get("login_locked"):
            return no("the account is locked after repeated failed logins; contact the helpdesk")
        if cmd.command == "login":
            if not await matches(acc.get("password_hash"), cmd.password or ""):
                acc["login_failures"] = acc.get("login_failures", 0) + 1
                acc["login_locked"] = acc["login_failures"] >= rules.MAX_LOGIN_FAILURES
                return no("wrong matricule or password")
            acc.update(login_failures=0, login_hash=digest(cmd.login_id))
            channel = cmd.channel or acc["otp_channel"]
            address = acc["otp_address"] if channel == acc["otp_channel"] else person.get(
                "email" if channel == "email" else "mobile")
            if not address:
                return no(f"no {'e-mail address' if channel == 'email' else 'mobile number'} on file for this account")
            return await self.send_otp(acc, "login_otp", "login-verify-otp", channel, address)
        if cmd.command == "login-verify-otp":
            if not same_digest(acc.get("login_hash"), cmd.login_id):
                return no("this login was not started here; log in again")
            problem = await self.check_otp(acc, "login_otp", cmd.code)
            if problem:
                return no(problem, "login-verify-otp")
        elif not await self.luxtrust.verify(cmd.luxtrust_assertion or "", acc["_id"]):
            return no("the LuxTrust assertion was not accepted")
        if not cmd.session_token:
            return no("a session token is needed to open a session")
        expires = self.now + rules.SESSION_IDLE
        return Step(True, "logged in", None, {"session_expires_at": expires.isoformat()},
                    session=(digest(cmd.session_token), expires))

    async def change_password(self, acc: dict[str, Any], cmd: SessionCommand) -> Step:
        if not await matches(acc.get("password_hash"), cmd.password or ""):
            return no("the current password is wrong")
        problem = rules.password_problem(cmd.new_password or "", acc["_id"], self.common_passwords)
        if problem:
            return no(problem)
        acc["password_hash"] = await hash_secret(cmd.new_password or "")
        return Step(True, "password changed")

    def helpdesk(self, acc: dict[str, Any], cmd: Helpdesk) -> Step:
        if cmd.command == "unlock":
            acc.update(login_failures=0, login_locked=False)
            return Step(True, "login unlocked")
        return Step(True, "a new letter is on its way; the previous code no longer works", "start")
