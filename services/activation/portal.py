"""The portal's steps, answered over activation's HTTP API (never Kafka: each carries a secret). A step finds
its account (by matricule, or by the digest of the flow or login token it was given), runs under the account's
lock, saves, and publishes its outcome without secrets."""

from __future__ import annotations

from schemas.activation import (
    ChangePasswordRequest,
    ForgotPasswordRequest,
    LoginCodeRequest,
    LoginRequest,
    LuxTrustLoginRequest,
    SessionRequest,
    StartRequest,
    StepRequest,
)
from services.kit.hashing import digest, hash_secret, matches, needs_rehash, same_digest

from .domain import account, flow, rules
from .domain.account import Account
from .domain.flow import Step, no
from .logins import Answer
from .service import ActivationService

FORGOT = "if this matricule has an account, a new letter is on its way by post"


class PortalSteps:
    def __init__(self, service: ActivationService) -> None:
        self.s, self.store = service, service.store

    async def start(self, req: StartRequest) -> Answer:
        async with self.s.lock(req.matricule):
            acc = await self.store.account(req.matricule)

            async def run() -> Step:
                now = self.s.clock()
                code_ok = await matches(flow.letter_code_hash(acc, now), rules.normalize_code(req.activation_code))
                return flow.start(acc, code_ok, req.terms_version, now)

            answer = await self.s.guarded("code", req.matricule, req.challenge, False, run, req.client)
            if answer.step.accepted and acc is not None:
                answer.token, acc["flow_hash"] = await self.s.new_token(req.matricule, "activation",
                                                                        rules.FLOW_VALIDITY)
                await self.store.save_account(acc)
            await self.s.publish("start", req.matricule, answer.step, None, None)
            return answer

    async def step(self, req: StepRequest) -> Answer:
        matricule = await self.store.token(digest(req.flow_token), "activation", self.s.clock())
        if matricule is None:
            return Answer(no("this activation was not started here, or it took too long; start again with the "
                             "letter's code", "start"))
        async with self.s.lock(matricule):
            acc = await self.store.account(matricule) or {}
            refusal = (None if same_digest(acc.get("flow_hash"), req.flow_token) else
                       "this activation was started again elsewhere; continue there or start again")
            refusal = refusal or rules.step_refusal(acc.get("state", ""), req.command)
            step = no(refusal, rules.EXPECTED.get(acc.get("state", ""))) if refusal else await self._step(acc, req)
            device = None
            if step.accepted:
                if step.activated:
                    device = self.s.new_device(acc)
                await self.store.save_account(acc)
            elif step.failed:
                await self.store.save_account(acc)
            await self.s.publish(req.command, matricule, step, None, acc if step.activated else None)
            return Answer(step, device_token=device)

    async def _step(self, acc: Account, req: StepRequest) -> Step:
        now = self.s.clock()
        if req.command == "set-password":
            refused = flow.password_refusal(acc, req.password, self.s.common)
            return refused or flow.set_password(acc, await hash_secret(rules.normalize_password(req.password or "")))
        if req.command == "choose-channel":
            return flow.choose_channel(acc, req.channel, req.email, req.mobile, await self.store.person(acc["_id"]),
                                       self.s.new_otp(acc["_id"], "otp", now), now)
        if req.command == "resend-otp":
            return flow.resend_otp(acc, "otp", "verify-otp", self.s.new_otp(acc["_id"], "otp", now), now)
        if req.command == "verify-otp":
            if wait := flow.otp_wait(acc, now):
                return no(f"too many wrong one-time codes; try again in {wait} seconds", "verify-otp")
            return flow.verify_otp(acc, self.s.otp_ok(acc, "otp", req.code), now)
        if req.command in ("link-luxtrust", "skip-luxtrust"):
            linked = req.command == "link-luxtrust"
            verified = linked and await self.s.luxtrust.verify(req.luxtrust_assertion or "", acc["_id"])
            return flow.luxtrust(acc, linked, verified)
        return flow.confirm(acc, now)

    async def login(self, req: LoginRequest) -> Answer:
        async with self.s.lock(req.matricule):
            acc = await self.store.account(req.matricule)
            trusted = acc is not None and req.device_token is not None and digest(req.device_token) in acc.get(
                "devices", [])

            async def run() -> Step:  # the registry's addresses serve only a channel asked for (read then
                person = await self.store.person(req.matricule) if req.channel else {}  # whether known or not)
                now, stored = self.s.clock(), flow.login_password_hash(acc)
                password_ok = await matches(stored, rules.normalize_password(req.password))
                rehashed = (await hash_secret(rules.normalize_password(req.password))
                            if password_ok and needs_rehash(stored) else None)
                return flow.login(acc, password_ok, rehashed, req.channel, person,
                                  self.s.new_otp(req.matricule, "login_otp", now), now)

            answer = await self.s.guarded("login", req.matricule, req.challenge, trusted, run, req.client)
            if answer.step.accepted and acc is not None:
                answer.token, acc["login_hash"] = await self.s.new_token(req.matricule, "login", rules.LOGIN_VALIDITY)
                await self.store.save_account(acc)
            await self.s.publish("login", req.matricule, answer.step, None, None)
            return answer

    async def login_code(self, req: LoginCodeRequest) -> Answer:
        matricule = await self.store.token(digest(req.login_token), "login", self.s.clock())
        if matricule is None:
            return Answer(no("this login was not started here, or it took too long; log in again", "login"))
        async with self.s.lock(matricule):
            acc, now = await self.store.account(matricule) or {}, self.s.clock()
            if not same_digest(acc.get("login_hash"), req.login_token):
                step = no("a newer login was started; use its code, or log in again", "login")
            elif wait := flow.otp_wait(acc, now):
                step = no(f"too many wrong one-time codes; try again in {wait} seconds", "login-verify-otp")
            else:
                step = flow.login_code(acc, self.s.otp_ok(acc, "login_otp", req.code), now)
            answer = Answer(step)
            if step.accepted:
                answer.token, expires = await self.s.open_session(acc)
                answer.device_token = self.s.new_device(acc)
                step.details["session_expires_at"] = expires.isoformat()
                acc.pop("login_hash", None)
                await self.store.drop_token(digest(req.login_token))
            await self.store.save_account(acc)
            await self.s.publish("login-verify-otp", matricule, step, None, None)
            return answer

    async def login_luxtrust(self, req: LuxTrustLoginRequest) -> Answer:
        async with self.s.lock(req.matricule):
            acc = await self.store.account(req.matricule)
            verified = acc is not None and bool(acc.get("active")) and await self.s.luxtrust.verify(
                req.luxtrust_assertion, req.matricule)
            step = flow.luxtrust_login(acc, verified)
            if acc is None or not step.accepted:
                await self.s.publish("login-luxtrust", req.matricule, step, None, None)
                return Answer(step)
            answer = Answer(step)
            answer.token, expires = await self.s.open_session(acc)
            step.details["session_expires_at"] = expires.isoformat()
            await self.store.save_account(acc)
            await self.s.publish("login-luxtrust", req.matricule, step, None, None)
            return answer

    async def end_session(self, req: SessionRequest) -> Answer:
        session = await self.s.session(req.session_token, touch=False)
        if session is None:
            return Answer(no("not logged in (the session is unknown, expired or ended)"))
        async with self.s.lock(session["matricule"]):
            if req.everywhere:  # every session of the account, whatever their number and age
                acc = await self.store.account(session["matricule"])
                if acc is not None:
                    account.end_every_session(acc)
                    await self.store.save_account(acc)
            await self.store.revoke_session(session["_id"])
            step = Step(True, "logged out everywhere" if req.everywhere else "logged out")
            await self.s.publish("logout", session["matricule"], step, None, None)
            return Answer(step)

    async def change_password(self, req: ChangePasswordRequest) -> Answer:
        session = await self.s.session(req.session_token, touch=False)
        if session is None:
            return Answer(no("not logged in (the session is unknown, expired or ended)"))
        matricule = session["matricule"]
        async with self.s.lock(matricule):
            acc = await self.store.account(matricule) or {}

            async def run() -> Step:
                password_ok = await matches(acc.get("password_hash"), rules.normalize_password(req.password))
                refused = flow.password_change_refusal(acc, password_ok, req.new_password, self.s.common)
                return refused or flow.change_password(
                    acc, await hash_secret(rules.normalize_password(req.new_password)))

            # her own slow-down, never a challenge: no stranger's failed logins weigh on it
            answer = await self.s.guarded("current-password", matricule, None, False, run)
            if answer.step.accepted:  # every other session ends (the flow moved the generation on); this one stays
                await self.store.move_session(session["_id"], acc["session_generation"])
                await self.store.save_account(acc)
            await self.s.publish("change-password", matricule, answer.step, None, None)
            return answer

    async def forgot_password(self, req: ForgotPasswordRequest) -> Answer:
        """The same answer whether or not there is an account; at most one letter a week per matricule."""
        if not await self.s.challenges.solved(req.challenge):
            return Answer(no("solve the challenge (copy the characters, or let the browser solve it) and try "
                             "again"), True)
        async with self.s.lock(req.matricule):
            acc, now = await self.store.account(req.matricule), self.s.clock()
            recent = await self.store.attempt("forgot", req.matricule)
            person = await self.store.person(req.matricule)
            if acc and flow.forgot_letter_due(acc, person, recent["failed_at"], now):
                await self.store.put_attempt("forgot", req.matricule, recent["failures"] + 1, now)
                await self.s.letter(req.matricule, person, acc.get("generation", 1) + 1)
            step = Step(True, FORGOT, "start")
            await self.s.publish("forgot-password", req.matricule, step, None, None)
            return Answer(step)
