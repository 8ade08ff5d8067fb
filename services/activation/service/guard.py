"""Guessable secrets are guarded so that nothing ever locks and a stranger never keeps the owner out (the rule:
`domain/rules.py`, `GUARDS` and `gate`). Failures of the letter's code and of the login password are counted per
matricule — known or not, so answers do not tell them apart: from the 3rd on, an attempt needs a solved challenge
and the owner is told of repeated failures; and they are counted per matricule and client address (the gateway's
view of it, kept only as a keyed hash) for the increasing delay, so a stranger's failures delay only the stranger,
and the owner — the right secret, a solved challenge, from her own address — gets in at once; a browser the
account logged in from before is not delayed at all. The logged-in owner's current password (a password change)
needs no challenge and has a delay of its own per account, which no login failure touches. (One-time codes count
per account across codes, in the account itself: `domain/flow.py`.)

A use case asks before it checks a secret, and says how the check went, in its own code:

    attempt = await guards.admit("login", matricule, challenge, trusted, client)
    answer = attempt.refusal            # a wait, or a challenge to solve: the secret is not checked
    if answer is None:
        step = ...                      # check the secret, run the step
        answer = await guards.record(attempt, step)
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from schemas.activation import ChallengeAnswer

from ..domain import rules
from ..domain.flow import Step, no
from ..store.protocol import Store
from .answer import Answer
from .challenges import Challenges
from .effects import Effects


@dataclass
class Attempt:
    """One attempt at a guessable secret of `kind` on `matricule`: the counts `record` moves on, or the refusal
    that stopped it before the secret was checked."""

    kind: str
    matricule: str
    now: datetime
    failures: int  # on the matricule, by anyone (the challenge, the owner's notices)
    epoch: int  # of the matricule's count: a reset moves it on, and every client address's count with it
    own_key: str | None  # where this client address's failures on the matricule are counted (the delay), or None
    own_failures: int  # counted there (without an own key: the matricule's)
    refusal: Answer | None = None


class Guards:
    def __init__(self, store: Store, challenges: Challenges, effects: Effects, clock: Callable[[], datetime],
                 code_key: bytes) -> None:
        self.store, self.challenges, self.effects, self.clock = store, challenges, effects, clock
        self.client_hash_key = hmac.new(code_key, b"dsp-activation-client-addresses", hashlib.sha256).digest()

    def client_key(self, epoch: int, client: str | None) -> str:
        """Where one client address's failures on a matricule are counted: the reset epoch and a keyed hash of
        the address (never the address itself). No address given (a caller other than the gateway): one key."""
        mac = hmac.new(self.client_hash_key, (client or "").encode(), hashlib.sha256).hexdigest()[:32]
        return f"{epoch}:{mac}"

    async def admit(self, kind: str, matricule: str, challenge: ChallengeAnswer | None, trusted: bool,
                    client: str | None = None) -> Attempt:
        """Whether `rules.gate` lets this attempt through: if not, its `refusal` (a wait, or a challenge to solve,
        which `challenge` may have solved). `trusted`: a device the account logged in from before (no wait)."""
        guard, now = rules.GUARDS[kind], self.clock()
        counted = await self.store.attempt(kind, matricule)
        failures, epoch = counted["failures"], counted.get("epoch", 0)
        own_key = self.client_key(epoch, client) if guard.wait_per_client else None
        own = await self.store.attempt(kind, matricule, own_key) if own_key is not None else counted
        attempt = Attempt(kind, matricule, now, failures, epoch, own_key, own["failures"])
        gate = rules.gate(guard, failures, own["failures"], own["failed_at"], now, trusted)
        if gate.wait_s:
            attempt.refusal = Answer(no(f"too many failed attempts; try again in {gate.wait_s} seconds"),
                                     gate.challenge, gate.wait_s)
        elif gate.challenge and not await self.challenges.solved(challenge):
            attempt.refusal = Answer(
                no("solve the challenge (copy the characters, or let the browser solve it) and try again"), True)
        return attempt

    async def record(self, attempt: Attempt, step: Step) -> Answer:
        """Count the admitted attempt's outcome — a failure per matricule and per client address (the owner told
        at `rules.TELL_OWNER_AT`), a success clears both — and answer with `step`."""
        guard, kind, matricule, now = rules.GUARDS[attempt.kind], attempt.kind, attempt.matricule, attempt.now
        failures, epoch, own_key = attempt.failures, attempt.epoch, attempt.own_key
        if step.failed:
            failures += 1
            await self.store.put_attempt(kind, matricule, failures, now, epoch=epoch)
            if own_key is not None:
                await self.store.put_attempt(kind, matricule, attempt.own_failures + 1, now, own_key)
            if guard.tell_owner and failures in rules.TELL_OWNER_AT:
                await self._tell_owner(kind, matricule, failures)
        elif step.accepted:
            if failures:
                await self.store.put_attempt(kind, matricule, 0, None, epoch=epoch)
            if own_key is not None and attempt.own_failures:
                await self.store.put_attempt(kind, matricule, 0, None, own_key)
        return Answer(step, rules.challenge_needed(guard, failures))

    async def reset(self, kind: str, matricule: str) -> None:
        """Clear the failures of `kind` on `matricule`, every client address's too (their keys carry the epoch
        this moves on, so none is read again; no scan)."""
        counted = await self.store.attempt(kind, matricule)
        await self.store.put_attempt(kind, matricule, 0, None, epoch=counted.get("epoch", 0) + 1)

    async def _tell_owner(self, kind: str, matricule: str, failures: int) -> None:
        acc = await self.store.account(matricule)
        if acc is None:
            return  # nobody to tell (and answers stay the same for unknown matricules)
        params, template = {"failures": str(failures)}, f"repeated-{kind}-failures"
        ref = f"failures:{kind}:{matricule}:{acc.get('generation', 1)}:{failures}:{self.clock().date()}"
        await self.effects.notify(f"{ref}:inapp", matricule, "inapp", template, params)
        email = acc.get("otp_address") if acc.get("otp_channel") == "email" else (await self.store.person(
            matricule)).get("email")
        if email:
            await self.effects.notify(f"{ref}:email", matricule, "email", template, params, email)
