"""Applying access commands: load the patient's state, plan (pure rules), save version-guarded, then the
effects — audit entry, scheduled grant ends, notices (an alert also on the patient's own channel), the
break-the-glass count the operators watch, outcome event, view refresh. A redelivered command finds
its outcome stored with the state and repeats the same effects under the same ids (never a second letter)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from schemas.access import AccessChangedV1, AccessOutcomeV1, AnyCommand, GrantExpiredV1
from schemas.notify import Channel, NotificationRequestV1
from services.kit.commands import Ids, Publish, remember, send

from . import commands
from . import state as ev
from .audit import AuditTrail
from .store import RECENT_COMMANDS, PatientDoc, Store
from .view import AccessView

log = structlog.get_logger("dsp.access")
NS = uuid.UUID("0b5d2c4e-6a51-4f0e-9c1b-5d0f6c0a3e77")  # the service's id namespace
IDS = Ids(NS)


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
    def __init__(self, store: Store, view: AccessView, audit_log: AuditTrail, out: Publishers,
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
            plan = commands.plan(cmd, doc.access, await self._facts(cmd, doc), now)
            ends = self._apply(doc, plan)
            outcome = AccessOutcomeV1(event_id=IDS.of("outcome", cmd.command_id),
                                      command_id=cmd.command_id, command=cmd.command, patient=cmd.patient,
                                      accepted=plan.accepted, reason=plan.reason, at=now, details=plan.details)
            effects = {"notices": [{"template": t, "params": p} for t, p in plan.notices],  # no nested arrays
                       "ends": ends, "expired": commands.ended_grant(cmd) is not None and plan.accepted,
                       "alert": plan.alert}
            if not plan.accepted and doc.version == 0:  # no state for an unknown patient: the refusal alone
                outcome = AccessOutcomeV1.model_validate(await self.store.first_refusal(
                    cmd.command_id, outcome.model_dump(mode="json")))  # a redelivery finds the first one
                await self._effects(cmd, outcome, effects, 0)
                return outcome
            doc.recent = remember(doc.recent, {"command_id": cmd.command_id,
                                               "outcome": outcome.model_dump(mode="json"), "effects": effects},
                                  RECENT_COMMANDS)
            if await self.store.save(doc, now):
                self.view.put(cmd.patient, doc.version, doc.access)
                await self._effects(cmd, outcome, effects, doc.version)
                return outcome
        raise Conflict("the patient's access state changed 20 times while applying one command")

    async def _facts(self, cmd: AnyCommand, doc: PatientDoc) -> commands.Facts:
        """What the planner needs to know and cannot look up itself (it is pure)."""
        pro: str = getattr(cmd, "professional_id", None) or (cmd.actor.id if cmd.actor.kind == "professional" else "")
        assistant: str = getattr(cmd, "assistant", "")
        pending = await self.store.pending_presence(cmd.command_id) if commands.needs_presence_hash(cmd) else None
        redeemed = await self.store.redemption(cmd.command_id) if commands.needs_presence_check(cmd) else None
        check = await self.audit.verify(cmd.patient) if commands.needs_audit_check(cmd) else None
        patient = await self.store.person(cmd.patient)
        return commands.Facts(
            patient_known=patient is not None,
            patient_guardians=frozenset(patient.get("guardians") or []) if patient else frozenset(),
            professional_known=bool(pro) and await self.view.professional_known(pro),
            assistant_known=bool(assistant) and await self.store.person(assistant) is not None,
            has_presence_password=doc.presence_hash is not None,
            professional_display=self.view.display(pro) if pro else "",
            new_presence_hash=pending["hash"] if pending and pending.get("patient", cmd.patient) == cmd.patient
            else None,  # one kept for another patient's command is not this one's
            presence_checked=redeemed is not None and (redeemed["patient"], redeemed["professional"]) == (
                cmd.patient, cmd.actor.id),
            audit=check)

    @staticmethod
    def _apply(doc: PatientDoc, plan: commands.Plan) -> list[dict[str, Any]]:
        """Apply an accepted plan to `doc`; returns the grant ends it added, as the state now holds them."""
        if not plan.accepted:
            return []
        before = ev.time_limits(doc.access)
        for event in plan.events:
            ev.apply(doc.access, event)
        if plan.consent is not None:
            doc.consents.append(plan.consent)
        if plan.presence_hash is not None:
            doc.presence_hash = plan.presence_hash
        return [{"kind": kind, "subject": subject, "ends_at": at}
                for kind, subject, at in sorted(ev.time_limits(doc.access) - before)]

    async def _send_password(self, cmd: AnyCommand, channel: str) -> None:
        """The letter (or in-app notice) with the password, sealed to notify by whoever generated it (the API or
        the agency's issue on activation). Among the effects, so a redelivery after a crash still sends it —
        under the same request id, which notify sends once."""
        pending = await self.store.pending_presence(cmd.command_id)
        if pending is not None and pending.get("sealed"):
            await self.notify(cmd.patient, f"{cmd.command_id}:password", "presence-password", {},
                              Channel(channel), pending["sealed"])

    async def _effects(self, cmd: AnyCommand, outcome: AccessOutcomeV1, effects: dict[str, Any], version: int) -> None:
        await self.audit.append(cmd.patient, outcome.at, cmd.actor.kind, cmd.actor.id, cmd.command, None,
                                outcome.accepted, outcome.reason, ref=cmd.command_id,
                                justification=commands.justification(cmd))
        channel = commands.sends_password(cmd)
        if channel is not None and outcome.accepted:
            await self._send_password(cmd, channel)
        for end in effects["ends"]:
            await self.store.schedule_end(cmd.patient, end["kind"], end["subject"], end["ends_at"])
        tell = self.alert if effects.get("alert") else self.notify
        for notice in effects["notices"]:
            await tell(cmd.patient, f"{cmd.command_id}:{notice['template']}", notice["template"], notice["params"])
        if outcome.accepted and commands.breaks_the_glass(cmd):  # counted for the operators' watch, once
            await self.store.glass_broken(cmd.actor.id, cmd.patient, outcome.at, cmd.command_id)
        key = cmd.patient.encode()
        ended = commands.ended_grant(cmd)
        if effects.get("expired") and ended is not None:
            expired = GrantExpiredV1(event_id=IDS.of("expired", cmd.command_id), patient=cmd.patient,
                                     grant=ended.grant, subject=ended.subject, ended_at=ended.ends_at)
            await send(self.out.expired, expired, cmd.patient)
        await send(self.out.outcome, outcome, cmd.patient)
        if outcome.accepted and version:
            await self.out.changed(AccessChangedV1(patient=cmd.patient, version=version).model_dump(), key=key)
        await self.store.mark_effects_done(cmd.command_id, outcome.at)
        if commands.keeps_sealed_password(cmd):
            await self.store.forget_sealed_presence(cmd.command_id)  # the letter is on its way: keep the hash only
        log.info("access command applied" if outcome.accepted else "access command refused", command=cmd.command,
                 reason=outcome.reason)

    async def alert(self, patient: str, ref: str, template: str, params: dict[str, str]) -> None:
        """A notice in the portal and on the patient's own channel (the e-mail or SMS she chose; notify resolves
        it): an emergency access, repeated wrong presence passwords."""
        await self.notify(patient, ref, template, params)
        await self.notify(patient, f"{ref}:preferred", template, params, Channel.PREFERRED)

    async def notify(self, patient: str, ref: str, template: str, params: dict[str, str],
                     channel: Channel = Channel.INAPP, sealed: dict[str, str] | None = None) -> None:
        request = NotificationRequestV1(request_id=notice_id(ref), channel=channel, template_id=template,
                                        recipient=patient, parameters=params, **(sealed or {}))
        await self.out.notify(request.model_dump(mode="json"), key=request.request_id.encode())


def notice_id(ref: str) -> str:
    """The deterministic request id of a notice (the API seals a presence password to it in advance)."""
    return f"access-{IDS.of(ref)}"

