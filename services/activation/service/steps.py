"""The activation's steps after `start`, each tied to the browser by its flow token: set-password, choose-channel
(the first one-time code), resend-otp, verify-otp, link-luxtrust or skip-luxtrust, confirm. A step out of order is
refused with the one that comes next (`rules.step_refusal`); each checks its secret here and hands the result to
its pure step (`domain/flow.py`); `confirm` activates the account and gives the browser a device token."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from schemas.activation import StepRequest
from services.kit.hashing import digest, hash_secret, same_digest
from services.kit.turns import Turns

from ..domain import flow, rules
from ..domain.account import Account
from ..domain.flow import Step, no
from ..store.protocol import Store
from .answer import Answer
from .effects import Effects
from .luxtrust import LuxTrust
from .otp import OneTimeCodes
from .tokens import Tokens


class Steps:
    def __init__(self, store: Store, lock: Turns, clock: Callable[[], datetime], otp: OneTimeCodes, tokens: Tokens,
                 luxtrust: LuxTrust, effects: Effects, common_passwords: frozenset[str]) -> None:
        self.store, self.lock, self.clock, self.otp, self.tokens = store, lock, clock, otp, tokens
        self.luxtrust, self.effects, self.common = luxtrust, effects, common_passwords

    async def run(self, req: StepRequest) -> Answer:
        matricule = await self.store.token(digest(req.flow_token), "activation", self.clock())
        if matricule is None:
            return Answer(no("this activation was not started here, or it took too long; start again with the "
                             "letter's code", "start"))
        async with self.lock(matricule):
            acc = await self.store.account(matricule) or {}
            refusal = (None if same_digest(acc.get("flow_hash"), req.flow_token) else
                       "this activation was started again elsewhere; continue there or start again")
            refusal = refusal or rules.step_refusal(acc.get("state", ""), req.command)
            step = no(refusal, rules.EXPECTED.get(acc.get("state", ""))) if refusal else await self._step(acc, req)
            device = None
            if step.accepted:
                if step.activated:
                    device = self.tokens.new_device(acc)
                await self.store.save_account(acc)
            elif step.failed:
                await self.store.save_account(acc)
            await self.effects.publish(req.command, matricule, step, None, acc if step.activated else None)
            return Answer(step, device_token=device)

    async def _step(self, acc: Account, req: StepRequest) -> Step:
        """The step `req.command` (allowed in the account's state), its secret checked first."""
        now = self.clock()
        if req.command == "set-password":
            refused = flow.password_refusal(acc, req.password, self.common)
            return refused or flow.set_password(acc, await hash_secret(rules.normalize_password(req.password or "")))
        if req.command == "choose-channel":
            return flow.choose_channel(acc, req.channel, req.email, req.mobile, await self.store.person(acc["_id"]),
                                       self.otp.new(acc["_id"], "otp", now), now)
        if req.command == "resend-otp":
            return flow.resend_otp(acc, "otp", "verify-otp", self.otp.new(acc["_id"], "otp", now), now)
        if req.command == "verify-otp":
            if wait := flow.otp_wait(acc, now):
                return no(f"too many wrong one-time codes; try again in {wait} seconds", "verify-otp")
            return flow.verify_otp(acc, self.otp.matches(acc, "otp", req.code), now)
        if req.command in ("link-luxtrust", "skip-luxtrust"):
            linked = req.command == "link-luxtrust"
            verified = linked and await self.luxtrust.verify(req.luxtrust_assertion or "", acc["_id"])
            return flow.luxtrust(acc, linked, verified)
        return flow.confirm(acc, now)
