"""The helpdesk's commands, from Kafka (`activation.commands.v1`): a new letter (`reissue-code`, which also ends
every session of the account) or clearing an account's failure counts (`unlock`), each signed by the operator the
console authenticated. A redelivered command is answered from the account's outcome log."""

from __future__ import annotations

import structlog

from schemas.activation import ActivationOutcomeV1, Helpdesk
from services.kit.commands import recent_outcome, remember
from services.kit.servicetokens import Refused, Verifier
from services.kit.turns import Turns

from ..domain import account, rules
from ..domain.account import Account
from ..domain.flow import Step, no
from ..store.protocol import Store
from .effects import Effects
from .guard import Guards
from .letters import Letters

log = structlog.get_logger("dsp.activation")
RECENT = 30  # helpdesk outcomes and reissued letters remembered per account


class HelpdeskCommands:
    """Helpdesk (Kafka): one command, applied under the account's lock."""

    def __init__(self, store: Store, lock: Turns, guards: Guards, letters: Letters, effects: Effects,
                 verifier: Verifier | None) -> None:
        self.store, self.lock, self.guards, self.letters, self.effects = store, lock, guards, letters, effects
        self.verifier = verifier  # of service tokens: the console's signature on each command

    async def apply(self, cmd: Helpdesk) -> ActivationOutcomeV1:
        async with self.lock(cmd.matricule):
            acc = await self.store.account(cmd.matricule)
            done = recent_outcome((acc or {}).get("recent", []), cmd.command_id)
            if done is not None:
                outcome = ActivationOutcomeV1.model_validate(done["outcome"])
                await self.effects.send_outcome(outcome, cmd.matricule)
                return outcome
            refusal = self._unauthenticated(cmd)
            step = (no(refusal) if refusal else await self._helpdesk(acc, cmd) if acc else
                    no("no activation letter was sent to this matricule"))
            outcome = self.effects.outcome(cmd.command, cmd.matricule, step, cmd.command_id)
            if acc:  # stored before it is sent: a redelivery re-sends this one
                fresh = await self.store.account(cmd.matricule) or acc
                fresh["recent"] = remember(fresh.get("recent", []), {
                    "command_id": cmd.command_id, "outcome": outcome.model_dump(mode="json")}, RECENT)
                await self.store.save_account(fresh)
            return await self.effects.publish(cmd.command, cmd.matricule, step, cmd.command_id, None, outcome)

    def _unauthenticated(self, cmd: Helpdesk) -> str | None:
        """Why a helpdesk command is not from an operator the console authenticated, or None."""
        if self.verifier is None:
            return "no service keys configured: helpdesk commands cannot be verified"
        try:
            claims = self.verifier.claims(cmd.operator_assertion, ("console",))
        except Refused as exc:
            log.warning("helpdesk command refused: not signed by the console", reason=exc.reason)
            return "the helpdesk command is not signed by an authenticated operator"
        if (claims.get("sub"), claims.get("cmd"), claims.get("matricule")) != (cmd.operator, cmd.command_id,
                                                                              cmd.matricule):
            return "the helpdesk command is not signed by an authenticated operator"
        return None

    async def _helpdesk(self, acc: Account, cmd: Helpdesk) -> Step:
        if cmd.command == "unlock":
            for kind in rules.GUARDS:
                await self.guards.reset(kind, cmd.matricule)
            await self.store.set_account(cmd.matricule, {"otp_failures": 0, "otp_failed_at": None})
            return Step(True, "failure counts cleared")
        person = await self.store.person(cmd.matricule)
        if not person:
            return no("the person is not in the registry")
        done = next((r["generation"] for r in acc.get("reissues", []) if r["command_id"] == cmd.command_id), None)
        generation = done or acc.get("generation", 1) + 1
        if done is None:  # remembered before the letter: a redelivery re-sends the same letter, not another one
            reissues = [*acc.get("reissues", []), {"command_id": cmd.command_id, "generation": generation}][-RECENT:]
            await self.store.set_account(cmd.matricule, {"reissues": reissues})
        # a new letter ends every session (the old letter may have been stolen) — also when the reissue was
        # remembered by a delivery that stopped before its outcome: ending them twice loses nothing
        await self.store.set_account(cmd.matricule, {"session_generation": account.end_every_session(acc)})
        await self.letters.send(cmd.matricule, person, generation)
        return Step(True, "a new letter is on its way; the previous code no longer works", "start")
