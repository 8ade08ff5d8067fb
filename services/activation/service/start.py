"""Starting an activation: the letter's code (always behind a challenge, guarded as a guessable secret:
`guard.py`). Accepted, it gives the browser the flow token the next steps (`steps.py`) are tied to."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from schemas.activation import StartRequest
from services.kit.hashing import matches
from services.kit.turns import Turns

from ..domain import flow, rules
from ..store.protocol import Store
from .answer import Answer
from .effects import Effects
from .guard import Guards
from .tokens import Tokens


class Start:
    def __init__(self, store: Store, lock: Turns, clock: Callable[[], datetime], guards: Guards, tokens: Tokens,
                 effects: Effects) -> None:
        self.store, self.lock, self.clock = store, lock, clock
        self.guards, self.tokens, self.effects = guards, tokens, effects

    async def run(self, req: StartRequest) -> Answer:
        async with self.lock(req.matricule):
            acc = await self.store.account(req.matricule)
            attempt = await self.guards.admit("code", req.matricule, req.challenge, False, req.client)
            answer = attempt.refusal
            if answer is None:
                now = self.clock()  # an unknown matricule, a used or expired letter: checked against nothing
                code_ok = await matches(flow.letter_code_hash(acc, now), rules.normalize_code(req.activation_code))
                answer = await self.guards.record(attempt, flow.start(acc, code_ok, req.terms_version, now))
            if answer.step.accepted and acc is not None:
                answer.token, acc["flow_hash"] = await self.tokens.new(req.matricule, "activation",
                                                                       rules.FLOW_VALIDITY)
                await self.store.save_account(acc)
            await self.effects.publish("start", req.matricule, answer.step, None, None)
            return answer
