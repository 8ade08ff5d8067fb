"""The password of an active account: changed by its logged-in owner (the current one asked, guarded with a delay
of its own and never a challenge: `guard.py`; every other session ends, hers stays), or forgotten (a new letter by
post, at most one a week, the same answer for every matricule)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from schemas.activation import ChangePasswordRequest, ForgotPasswordRequest
from services.kit.hashing import hash_secret, matches
from services.kit.turns import Turns

from ..domain import flow, rules
from ..domain.flow import Step, no
from ..store.protocol import Store
from .answer import Answer
from .challenges import Challenges
from .effects import Effects
from .guard import Guards
from .letters import Letters
from .sessions import Sessions

FORGOT = "if this matricule has an account, a new letter is on its way by post"


class Passwords:
    def __init__(self, store: Store, lock: Turns, clock: Callable[[], datetime], guards: Guards,
                 challenges: Challenges, sessions: Sessions, letters: Letters, effects: Effects,
                 common_passwords: frozenset[str]) -> None:
        self.store, self.lock, self.clock, self.guards, self.challenges = store, lock, clock, guards, challenges
        self.sessions, self.letters, self.effects, self.common = sessions, letters, effects, common_passwords

    async def change(self, req: ChangePasswordRequest) -> Answer:
        session = await self.sessions.check(req.session_token, touch=False)
        if session is None:
            return Answer(no("not logged in (the session is unknown, expired or ended)"))
        matricule = session["matricule"]
        async with self.lock(matricule):
            acc = await self.store.account(matricule) or {}
            # her own slow-down, never a challenge: no stranger's failed logins weigh on it
            attempt = await self.guards.admit("current-password", matricule, None, False)
            answer = attempt.refusal
            if answer is None:
                password_ok = await matches(acc.get("password_hash"), rules.normalize_password(req.password))
                step = flow.password_change_refusal(acc, password_ok, req.new_password, self.common) or (
                    flow.change_password(acc, await hash_secret(rules.normalize_password(req.new_password))))
                answer = await self.guards.record(attempt, step)
            if answer.step.accepted:  # every other session ends (the step moved the generation on); this one stays
                await self.store.move_session(session["_id"], acc["session_generation"])
                await self.store.save_account(acc)
            await self.effects.publish("change-password", matricule, answer.step, None, None)
            return answer

    async def forgot(self, req: ForgotPasswordRequest) -> Answer:
        """The same answer whether or not there is an account; at most one letter a week per matricule."""
        if not await self.challenges.solved(req.challenge):
            return Answer(no("solve the challenge (copy the characters, or let the browser solve it) and try "
                             "again"), True)
        async with self.lock(req.matricule):
            acc, now = await self.store.account(req.matricule), self.clock()
            recent = await self.store.attempt("forgot", req.matricule)
            person = await self.store.person(req.matricule)
            if acc and flow.forgot_letter_due(acc, person, recent["failed_at"], now):
                await self.store.put_attempt("forgot", req.matricule, recent["failures"] + 1, now)
                await self.letters.send(req.matricule, person, acc.get("generation", 1) + 1)
            step = Step(True, FORGOT, "start")
            await self.effects.publish("forgot-password", req.matricule, step, None, None)
            return Answer(step)
