"""Applying access commands: load the patient's state, plan (pure rules), save version-guarded, then the
effects — audit entry, scheduled grant ends, notices, outcome event, view refresh. A redelivered command finds
its outcome stored with the state and repeats the same effects under the same ids (never a second letter)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from schemas.access import (
    AccessChangedV1,
    AccessOutcomeV1,
    AnyCommand,
    BreakTheGlass,
    ConsentCommand,
    EndGrant,
    GrantExpiredV1,
    PresencePasswordCommand,
    RedeemPresencePassword,
    VerifyAuditTrail,
)
from schemas.notify import Channel, NotificationRequestV1

from . import commands
from . import state as ev
from .audit_log import AuditLog
from .decisions import PRESENCE_GRANT
from .store import AccessStore, PatientDoc
from .view import AccessView

log = structlog.get_logger("dsp.access")
NS = uuid.UUID("0b5d2c4e-6a51-4f0e-9c1b-5d0f6c0a3e77")
Publish = Callable[..., Awaitable[Any]]


class Conflict(RuntimeError):
    """The patient's state kept changing under us; the message is retried."""


def ms(at: datetime) -> datetime:
    """Millisecond precision: what MongoDB stores, so a reloaded grant ends at the same instant."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


@dataclass
class Publishers:
    outcome: Publish
    changed: Publish
    notify: Publish
    expired: Publish
    command: Publish  # internal commands (grant ends, document visibility) go through the patient's partition


class AccessService:
    def __init__(self, store: AccessStore, view: AccessView, audit_log: AuditLog, out: Publishers,
                 clock: Callable[[], datetime]) -> None:
        self.store, self.view, self.audit, self.out, self.clock = store, view, audit_log, out, clock

    async def handle(self, cmd: AnyCommand) -> AccessOutcomeV1:
        now = ms(self.clock())
        for _ in range(20):
            doc = await self.store.load(cmd.patient)
            done = doc.applied(cmd.command_id)
            if done is not None:  # a redelivery, or a second sweeper's request: finish the effects if unfinished
                outcome = AccessOutcomeV1.model_validate(done["outcome"])
                if not await self.store.effects_done(cmd.command_id):
                    await self._effects(cmd, outcome, done["effects"], doc.version)
                return outcome
            plan = await self._plan(cmd, doc, now)
            pending = await self.store.pending_presence(cmd.command_id) if isinstance(
                cmd, PresencePasswordCommand) else None
            if pending is not None and pending.get("patient", cmd.patient) != cmd.patient:
                pending = None  # kept for another patient's command: not this one's
            if pending is None and isinstance(cmd, PresencePasswordCommand) and plan.accepted:
                plan = commands.refuse("a presence password is generated through access's API only")
            self._apply(cmd, doc, plan, now, pending["hash"] if pending else None)
            outcome = AccessOutcomeV1(event_id=str(uuid.uuid5(NS, f"outcome:{cmd.command_id}")),
                                      command_id=cmd.command_id, command=cmd.command, patient=cmd.patient,
                                      accepted=plan.accepted, reason=plan.reason, at=now, details=plan.details)
            effects = {"notices": [{"template": t, "params": p} for t, p in plan.notices],  # no nested arrays
                       "ends": _ends(plan.events), "expired": isinstance(cmd, EndGrant) and plan.accepted}
            if not plan.accepted and doc.version == 0:  # no state for an unknown patient: the refusal alone
                outcome = AccessOutcomeV1.model_validate(await self.store.first_refusal(
                    cmd.command_id, outcome.model_dump(mode="json")))  # a redelivery finds the first one
                await self._effects(cmd, outcome, effects, 0)
                return outcome
            doc.recent.append({"command_id": cmd.command_id, "outcome": outcome.model_dump(mode="json"),
                               "effects": effects})
            if await self.store.save(doc, now):
                self.view.put(cmd.patient, doc.version, doc.access)
                await self._effects(cmd, outcome, effects, doc.version)
                return outcome
        raise Conflict("the patient's access state changed 20 times while applying one command")

    async def _plan(self, cmd: AnyCommand, doc: PatientDoc, now: datetime) -> commands.Plan:
        pro: str = getattr(cmd, "professional_id", None) or (cmd.actor.id if cmd.actor.kind == "professional" else "")
        assistant: str = getattr(cmd, "assistant", "")
        facts = commands.Facts(
            patient_known=await self.store.person(cmd.patient) is not None,
            professional_known=bool(pro) and await self.view.professional_known(pro),
            assistant_known=bool(assistant) and await self.store.person(assistant) is not None,
            has_presence_password=doc.presence_hash is not None,
            professional_display=self.view.display(pro) if pro else "")
        plan = commands.plan(cmd, doc.access, facts, now)
        if plan.accepted and isinstance(cmd, RedeemPresencePassword):
            redeemed = await self.store.redemption(cmd.command_id)
            if redeemed is None or (redeemed["patient"], redeemed["professional"]) != (cmd.patient, cmd.actor.id):
                plan = commands.refuse("a presence password is redeemed through access's API only")
        if plan.accepted and isinstance(cmd, VerifyAuditTrail):
            count, broken, head = await self.audit.verify(cmd.patient)
            plan.reason = "audit trail intact" if broken is None else f"audit trail broken at entry {broken}"
            plan.details = {"entries": str(count), "first_broken": "" if broken is None else str(broken),
                            "head_seq": "" if head is None else str(head.seq),  # the chain's internals: here only
                            "head_hash": "" if head is None else head.hash}
        return plan

    @staticmethod
    def _apply(cmd: AnyCommand, doc: PatientDoc, plan: commands.Plan, now: datetime, new_hash: str | None) -> None:
        if not plan.accepted:
            return
        for event in plan.events:
            ev.apply(doc.access, event)
        if isinstance(cmd, ConsentCommand):
            doc.consents.append({"consent": cmd.consent, "value": cmd.value, "at": now, "by": cmd.actor.id})
        if isinstance(cmd, PresencePasswordCommand):
            doc.presence_hash = new_hash

    async def _send_password(self, cmd: PresencePasswordCommand) -> None:
        """The letter (or in-app notice) with the password, sealed to notify by whoever generated it (the API or
        the agency's issue on activation). Among the effects, so a redelivery after a crash still sends it —
        under the same request id, which notify sends once."""
        pending = await self.store.pending_presence(cmd.command_id)
        if pending is not None and pending.get("sealed"):
            await self.notify(cmd.patient, f"{cmd.command_id}:password", "presence-password", {},
                              Channel(cmd.delivery), pending["sealed"])

    async def _effects(self, cmd: AnyCommand, outcome: AccessOutcomeV1, effects: dict[str, Any], version: int) -> None:
        justification = cmd.justification if isinstance(cmd, BreakTheGlass) else ""
        await self.audit.append(cmd.patient, outcome.at, cmd.actor.kind, cmd.actor.id, cmd.command, None,
                                outcome.accepted, outcome.reason, ref=cmd.command_id, justification=justification)
        if isinstance(cmd, PresencePasswordCommand) and outcome.accepted and cmd.delivery != "none":
            await self._send_password(cmd)
        for end in effects["ends"]:
            await self.store.schedule_end(cmd.patient, end["kind"], end["subject"], end["ends_at"])
        for notice in effects["notices"]:
            await self.notify(cmd.patient, f"{cmd.command_id}:{notice['template']}", notice["template"],
                              notice["params"])
        key = cmd.patient.encode()
        if effects.get("expired") and isinstance(cmd, EndGrant):
            expired = GrantExpiredV1(event_id=str(uuid.uuid5(NS, f"expired:{cmd.command_id}")), patient=cmd.patient,
                                     grant=cmd.grant, subject=cmd.subject, ended_at=cmd.ends_at)
            await self.out.expired(expired.model_dump(mode="json"), key=key, headers={"event-id": expired.event_id})
        await self.out.outcome(outcome.model_dump(mode="json"), key=key, headers={"event-id": outcome.event_id})
        if outcome.accepted and version:
            await self.out.changed(AccessChangedV1(patient=cmd.patient, version=version).model_dump(), key=key)
        await self.store.mark_effects_done(cmd.command_id, outcome.at)
        if isinstance(cmd, PresencePasswordCommand):
            await self.store.forget_sealed_presence(cmd.command_id)  # the letter is on its way: keep the hash only
        log.info("access command applied" if outcome.accepted else "access command refused", command=cmd.command,
                 reason=outcome.reason)

    async def notify(self, patient: str, ref: str, template: str, params: dict[str, str],
                     channel: Channel = Channel.INAPP, sealed: dict[str, str] | None = None) -> None:
        request = NotificationRequestV1(request_id=notice_id(ref), channel=channel, template_id=template,
                                        recipient=patient, parameters=params, **(sealed or {}))
        await self.out.notify(request.model_dump(mode="json"), key=request.request_id.encode())


def notice_id(ref: str) -> str:
    """The deterministic request id of a notice (the API seals a presence password to it in advance)."""
    return f"access-{uuid.uuid5(NS, ref)}"


def _ends(events: list[ev.AccessEvent]) -> list[dict[str, Any]]:
    """Grant ends the sweeper must act on: presence, emergency, circle periods, a minor's assistant links."""
    ends: list[tuple[str, str, datetime]] = []
    for event in events:
        match event:
            case ev.PresencePasswordRedeemed(pro, at):
                ends.append(("presence-password", pro, at + PRESENCE_GRANT))
            case ev.EmergencyAccessUsed(pro, at):
                ends.append(("emergency", pro, at + ev.EMERGENCY_GRANT))
            case ev.CircleMemberAdded(pro, at, days) if days is not None:
                ends.append(("trusted-circle", pro, at + timedelta(days=days)))
            case ev.AccessPeriodSet(pro, at, days):
                ends.append(("trusted-circle", pro, at + timedelta(days=days)))
            case ev.AssistantLinked(matricule, _, ends_at) if ends_at is not None:
                ends.append(("assistant", matricule, ends_at))
    return [{"kind": kind, "subject": subject, "ends_at": at} for kind, subject, at in ends]
