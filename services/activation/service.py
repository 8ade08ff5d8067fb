"""Applying activation's inputs: registry persons get a letter with a code; commands run a Flow step on the
person's account document; the outcome, the notices and `account-activated` go out after the write.

A redelivered command finds its outcome stored with the account and is answered again, never re-applied
(no second one-time code, no second failure counted)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from schemas.activation import (
    AccountActivatedV1,
    ActivationOutcomeV1,
    AnyCommand,
    ChooseChannel,
    FlowStep,
    Helpdesk,
    Login,
    SessionCommand,
    SetPassword,
    StartActivation,
)
from schemas.notify import NotificationRequestV1
from services.kit.hashing import digest, hash_secret

from . import rules
from .flow import Flow, LuxTrust, Step, no

log = structlog.get_logger("dsp.activation")
NS = uuid.UUID("3c1f7f0e-2b7d-4a8e-9f61-0d2b5c9e4a10")
Publish = Callable[..., Awaitable[Any]]
RECENT = 30


@dataclass
class Publishers:
    outcome: Publish
    activated: Publish
    notify: Publish


class ActivationService:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], out: Publishers, clock: Callable[[], datetime],
                 code_key: bytes, common_passwords: frozenset[str], luxtrust: LuxTrust) -> None:
        self.accounts, self.persons, self.sessions = db["accounts"], db["persons"], db["sessions"]
        self.captchas, self.captchas_used = db["captchas"], db["captchas_used"]
        self.out, self.clock, self.key = out, clock, code_key
        self.common, self.luxtrust = common_passwords, luxtrust

    async def letter(self, matricule: str, person: dict[str, Any], generation: int = 1) -> None:
        """Issue the activation code of `generation` and request its letter (idempotent on both)."""
        now = self.clock()
        code = rules.activation_code(self.key, matricule, generation)
        fields = {"generation": generation, "code_hash": await hash_secret(code), "code_issued_at": now,
                  "code_expires_at": now + rules.CODE_VALIDITY, "code_failures": 0, "code_locked": False,
                  "code_used": False}
        try:
            await self.accounts.insert_one({"_id": matricule, "state": "", "active": False, "recent": [], **fields})
        except DuplicateKeyError:
            acc = await self.accounts.find_one({"_id": matricule}, {"generation": 1})
            if acc and acc["generation"] < generation:
                await self.accounts.update_one({"_id": matricule}, {"$set": fields})
            elif acc and acc["generation"] > generation:
                return
        address = person.get("postal_address", {})
        params = {"code": code, "given_name": person["given_name"], "family_name": person["family_name"],
                  **{k: str(v) for k, v in address.items() if v}}
        await self.notify(f"letter:{matricule}:{generation}", matricule, "letter", "activation-code", params)

    async def notify(self, ref: str, recipient: str, channel: str, template: str, params: dict[str, str],
                     destination: str | None = None) -> None:
        request = NotificationRequestV1.model_validate({
            "request_id": f"activation-{uuid.uuid5(NS, ref)}", "channel": channel, "template_id": template,
            "recipient": recipient, "parameters": params, "destination": destination})
        await self.out.notify(request.model_dump(mode="json", exclude_none=True), key=request.request_id.encode())

    async def handle(self, cmd: AnyCommand) -> ActivationOutcomeV1:
        now = self.clock()
        acc = await self.accounts.find_one({"_id": cmd.matricule})
        done = next((r for r in (acc or {}).get("recent", []) if r["command_id"] == cmd.command_id), None)
        if done is not None:
            outcome = ActivationOutcomeV1.model_validate(done["outcome"])
            await self._publish(cmd, outcome, None)
            return outcome
        step = await self._apply(acc, cmd, now) if acc else no("no activation letter was sent to this matricule")
        outcome = ActivationOutcomeV1(event_id=str(uuid.uuid5(NS, f"outcome:{cmd.command_id}")),
                                      command_id=cmd.command_id, command=cmd.command, matricule=cmd.matricule,
                                      accepted=step.accepted, reason=step.reason, next_step=step.next_step, at=now,
                                      details=step.details)
        if acc:
            acc["recent"] = [*acc.get("recent", []), {"command_id": cmd.command_id,
                                                       "outcome": outcome.model_dump(mode="json")}][-RECENT:]
            if step.session:
                await self.sessions.insert_one({"_id": step.session[0], "matricule": cmd.matricule,
                                                "created_at": now, "expires_at": step.session[1], "revoked": False})
            await self.accounts.replace_one({"_id": cmd.matricule}, acc)
        for i, notice in enumerate(step.notices):
            await self.notify(f"{cmd.command_id}:{i}", cmd.matricule, notice["channel"], notice["template_id"],
                              notice["parameters"], notice.get("destination"))
        await self._publish(cmd, outcome, acc if step.activated else None)
        return outcome

    async def _apply(self, acc: dict[str, Any], cmd: AnyCommand, now: datetime) -> Step:
        flow = Flow(self.common, self.luxtrust, self._captcha_ok, now)
        match cmd:
            case StartActivation():
                return await flow.start(acc, cmd)
            case SetPassword() | ChooseChannel() | FlowStep():
                refusal = flow.flow_refusal(acc, cmd.flow_id, cmd.command)
                if refusal:
                    return no(refusal, rules.EXPECTED.get(acc.get("state", "")))
                if isinstance(cmd, SetPassword):
                    return await flow.set_password(acc, cmd)
                if isinstance(cmd, ChooseChannel):
                    return await flow.choose_channel(acc, cmd, await self.persons.find_one({"_id": acc["_id"]}) or {})
                return await flow.step(acc, cmd)
            case Login():
                return await flow.login(acc, cmd, await self.persons.find_one({"_id": acc["_id"]}) or {})
            case SessionCommand():
                session = await self.session(cmd.session_token, touch=False)
                if session is None or session["matricule"] != cmd.matricule:
                    return no("not logged in (the session is unknown, expired or ended)")
                if cmd.command == "logout":
                    await self.sessions.update_one({"_id": session["_id"]}, {"$set": {"revoked": True}})
                    return Step(True, "logged out")
                return await flow.change_password(acc, cmd)
            case Helpdesk():
                step = flow.helpdesk(acc, cmd)
                if cmd.command != "unlock":
                    person = await self.persons.find_one({"_id": acc["_id"]}) or {}
                    if not person:
                        return no("the person is not in the registry")
                    acc["generation"] += 1
                    await self.letter(acc["_id"], person, acc["generation"])
                    fresh = await self.accounts.find_one({"_id": acc["_id"]}) or {}
                    acc.update({k: v for k, v in fresh.items() if k.startswith("code_") or k == "generation"})
                return step
        return no("unknown command")  # pragma: no cover - the contract's discriminator rules it out

    async def _captcha_ok(self, captcha_id: str, answer: str) -> bool:
        stored = await self.captchas.find_one({"_id": captcha_id})
        if not stored or self.clock() >= stored["expires_at"] or stored["answer"] != digest(answer.strip().upper()):
            return False
        try:  # single use: the first to claim it wins (a unique insert, atomic on MongoDB and FerretDB)
            await self.captchas_used.insert_one({"_id": captcha_id})
        except DuplicateKeyError:
            return False
        return True

    async def session(self, token: str, touch: bool = True) -> dict[str, Any] | None:
        now = self.clock()
        found = await self.sessions.find_one({"_id": digest(token)})
        if not found or found["revoked"] or now >= found["expires_at"]:
            return None
        if touch:
            found["expires_at"] = now + rules.SESSION_IDLE
            await self.sessions.update_one({"_id": found["_id"]}, {"$set": {"expires_at": found["expires_at"]}})
        return found

    async def _publish(self, cmd: AnyCommand, outcome: ActivationOutcomeV1, acc: dict[str, Any] | None) -> None:
        key = cmd.matricule.encode()
        if acc is not None:
            event = AccountActivatedV1(event_id=str(uuid.uuid5(NS, f"activated:{cmd.command_id}")),
                                       matricule=cmd.matricule, minor=outcome.details.get("minor") == "true",
                                       luxtrust=bool(acc.get("luxtrust")), activated_at=outcome.at)
            await self.out.activated(event.model_dump(mode="json"), key=key, headers={"event-id": event.event_id})
        await self.out.outcome(outcome.model_dump(mode="json"), key=key, headers={"event-id": outcome.event_id})
        log.info("activation step accepted" if outcome.accepted else "activation step refused",
                 command=cmd.command, reason=outcome.reason)
