"""Logging in, read top to bottom: 1. the password (a guessable secret, guarded: `guard.py`) sends a one-time code
to the account's channel and gives the browser a login token; 2. the one-time code, with that token, opens a
session (and gives the browser a device token, so that it is not delayed next time). Or LuxTrust instead of both.

Each step runs under the account's lock, checks its secret here (argon2, the one-time code's keyed hash, LuxTrust),
hands the result to its pure step (`domain/flow.py`), saves the account and publishes its outcome without secrets
(`effects.py`). An unknown matricule, an inactive account and a wrong password get one answer, and the password is
checked against nothing in the first two cases, so that timing does not tell them apart."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from schemas.activation import LoginCodeRequest, LoginRequest, LuxTrustLoginRequest
from services.kit.hashing import digest, hash_secret, matches, needs_rehash, same_digest
from services.kit.turns import Turns

from ..domain import flow, rules
from ..domain.account import Account
from ..domain.flow import no
from ..store.protocol import Store
from .answer import Answer
from .effects import Effects
from .guard import Guards
from .luxtrust import LuxTrust
from .otp import OneTimeCodes
from .tokens import Tokens


class Login:
    def __init__(self, store: Store, lock: Turns, clock: Callable[[], datetime], guards: Guards, otp: OneTimeCodes,
                 tokens: Tokens, luxtrust: LuxTrust, effects: Effects) -> None:
        self.store, self.lock, self.clock, self.guards, self.otp = store, lock, clock, guards, otp
        self.tokens, self.luxtrust_verifier, self.effects = tokens, luxtrust, effects

    async def password(self, req: LoginRequest) -> Answer:
        """1. The password: a one-time code goes out, and the browser gets the login token step 2 needs."""
        async with self.lock(req.matricule):
            acc = await self.store.account(req.matricule)
            trusted = acc is not None and req.device_token is not None and digest(req.device_token) in acc.get(
                "devices", [])
            attempt = await self.guards.admit("login", req.matricule, req.challenge, trusted, req.client)
            answer = attempt.refusal  # a wait, or a challenge to solve: the password is not checked
            if answer is None:
                # the registry's addresses serve only a channel asked for (read then, whether known or not)
                person = await self.store.person(req.matricule) if req.channel else {}
                now, stored = self.clock(), flow.login_password_hash(acc)
                password_ok = await matches(stored, rules.normalize_password(req.password))
                rehashed = (await hash_secret(rules.normalize_password(req.password))  # older parameters: new ones
                            if password_ok and needs_rehash(stored) else None)
                step = flow.login(acc, password_ok, rehashed, req.channel, person,
                                  self.otp.new(req.matricule, "login_otp", now), now)
                answer = await self.guards.record(attempt, step)
            if answer.step.accepted and acc is not None:
                answer.token, acc["login_hash"] = await self.tokens.new(req.matricule, "login", rules.LOGIN_VALIDITY)
                await self.store.save_account(acc)
            await self.effects.publish("login", req.matricule, answer.step, None, None)
            return answer

    async def code(self, req: LoginCodeRequest) -> Answer:
        """2. The one-time code, with the login token of step 1: a session and a device token."""
        matricule = await self.store.token(digest(req.login_token), "login", self.clock())
        if matricule is None:
            return Answer(no("this login was not started here, or it took too long; log in again", "login"))
        async with self.lock(matricule):
            acc, now = await self.store.account(matricule) or {}, self.clock()
            if not same_digest(acc.get("login_hash"), req.login_token):
                step = no("a newer login was started; use its code, or log in again", "login")
            elif wait := flow.otp_wait(acc, now):
                step = no(f"too many wrong one-time codes; try again in {wait} seconds", "login-verify-otp")
            else:
                step = flow.login_code(acc, self.otp.matches(acc, "login_otp", req.code), now)
            answer = Answer(step)
            if step.accepted:
                answer.token, expires = await self._open_session(acc)
                answer.device_token = self.tokens.new_device(acc)
                step.details["session_expires_at"] = expires.isoformat()
                acc.pop("login_hash", None)
                await self.store.drop_token(digest(req.login_token))
            await self.store.save_account(acc)
            await self.effects.publish("login-verify-otp", matricule, step, None, None)
            return answer

    async def luxtrust(self, req: LuxTrustLoginRequest) -> Answer:
        """Or LuxTrust: an active account whose assertion LuxTrust accepts gets a session at once."""
        async with self.lock(req.matricule):
            acc = await self.store.account(req.matricule)
            verified = acc is not None and bool(acc.get("active")) and await self.luxtrust_verifier.verify(
                req.luxtrust_assertion, req.matricule)
            step = flow.luxtrust_login(acc, verified)
            if acc is None or not step.accepted:
                await self.effects.publish("login-luxtrust", req.matricule, step, None, None)
                return Answer(step)
            answer = Answer(step)
            answer.token, expires = await self._open_session(acc)
            step.details["session_expires_at"] = expires.isoformat()
            await self.store.save_account(acc)
            await self.effects.publish("login-luxtrust", req.matricule, step, None, None)
            return answer

    async def _open_session(self, acc: Account) -> tuple[str, datetime]:
        """A new session (its token, when it ends unless used), under the account's current session generation:
        no list of sessions is kept, ending them all is `account.end_every_session` (checked in `sessions.py`)."""
        token, now = secrets.token_urlsafe(32), self.clock()
        expires = rules.session_expiry(now, now)
        await self.store.put_session(digest(token), acc["_id"], now, expires, acc.get("session_generation", 0))
        acc.pop("sessions", None)  # the list older documents kept
        return token, expires
