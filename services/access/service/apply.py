"""The use case that applies access commands (`access.commands.v1`): load the patient's state, plan (pure rules),
save version-guarded, then the effects — audit entry, scheduled grant ends, notices (an alert also on the patient's
own channel), the break-the-glass count the operators watch, outcome event, view refresh. A redelivered command finds
its outcome stored with the state and repeats the same effects under the same ids (never a second letter)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog

from schemas.access import (
    AccessChangedV1,
    AccessOutcomeV1,
    ActorRef,
    AnyCommand,
    GrantExpiredV1,
    SetDocumentVisibility,
)
from schemas.notify import Channel
from schemas.records import DocumentVisibilityChangedV1
from services.kit.commands import remember, send

from ..domain import planner
from ..domain import state as ev
from ..store import RECENT_COMMANDS, AuditTrail, PatientDoc, Store
from .arrivals import PersonArrivals
from .effects import IDS, Notices, Publishers, ms
from .view import AccessView

log = structlog.get_logger("dsp.access")
RECORDS = ActorRef(kind="operator", id="records")


class Conflict(RuntimeError):
    """The patient's state kept changing under us; the message is retried."""


class ApplyCommands:
    def __init__(self, store: Store, view: AccessView, audit_log: AuditTrail, out: Publishers, notices: Notices,
                 arrivals: PersonArrivals, clock: Callable[[], datetime]) -> None:
        self.store, self.view, self.audit, self.out, self.clock = store, view, audit_log, out, clock
        self.notices, self.arrivals = notices, arrivals

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
            plan = planner.plan(cmd, doc.access, await self._facts(cmd, doc), now)
            ends = self._apply(doc, plan)
            outcome = AccessOutcomeV1(event_id=IDS.of("outcome", cmd.command_id),
                                      command_id=cmd.command_id, command=cmd.command, patient=cmd.patient,
                                      accepted=plan.accepted, reason=plan.reason, at=now, details=plan.details)
            effects = {"notices": [{"template": t, "params": p} for t, p in plan.notices],  # no nested arrays
                       "ends": ends, "expired": planner.ended_grant(cmd) is not None and plan.accepted,
                       "alert": plan.alert, "watched": plan.watched}
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

    async def _facts(self, cmd: AnyCommand, doc: PatientDoc) -> planner.Facts:
        """What the planner needs to know and cannot look up itself (it is pure)."""
        pro: str = getattr(cmd, "professional_id", None) or (cmd.actor.id if cmd.actor.kind == "professional" else "")
        assistant: str = getattr(cmd, "assistant", "")
        pending = await self.store.pending_presence(cmd.command_id) if planner.needs_presence_hash(cmd) else None
        redeemed = await self.store.redemption(cmd.command_id) if planner.needs_presence_check(cmd) else None
        check = await self.audit.verify(cmd.patient) if planner.needs_audit_check(cmd) else None
        patient = await self.arrivals.person(cmd.patient)  # not read from the registry yet: held briefly for her
        return planner.Facts(
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
    def _apply(doc: PatientDoc, plan: planner.Plan) -> list[dict[str, Any]]:
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
            await self.notices.notify(cmd.patient, f"{cmd.command_id}:password", "presence-password", {},
                                      Channel(channel), pending["sealed"])

    async def _effects(self, cmd: AnyCommand, outcome: AccessOutcomeV1, effects: dict[str, Any], version: int) -> None:
        await self.audit.append(cmd.patient, outcome.at, cmd.actor.kind, cmd.actor.id, cmd.command, None,
                                outcome.accepted, outcome.reason, ref=cmd.command_id,
                                justification=planner.justification(cmd))
        channel = planner.sends_password(cmd)
        if channel is not None and outcome.accepted:
            await self._send_password(cmd, channel)
        for end in effects["ends"]:
            await self.store.schedule_end(cmd.patient, end["kind"], end["subject"], end["ends_at"])
        tell = self.notices.alert if effects.get("alert") else self.notices.notify
        for notice in effects["notices"]:
            await tell(cmd.patient, f"{cmd.command_id}:{notice['template']}", notice["template"], notice["params"])
        if outcome.accepted and effects.get("watched", planner.breaks_the_glass(cmd)):  # the operators' watch, once
            await self.store.glass_broken(cmd.actor.id, cmd.patient, outcome.at, cmd.command_id)
        key = cmd.patient.encode()
        ended = planner.ended_grant(cmd)
        if effects.get("expired") and ended is not None:
            expired = GrantExpiredV1(event_id=IDS.of("expired", cmd.command_id), patient=cmd.patient,
                                     grant=ended.grant, subject=ended.subject, ended_at=ended.ends_at)
            await send(self.out.expired, expired, cmd.patient)
        await send(self.out.outcome, outcome, cmd.patient)
        if outcome.accepted and version:
            await self.out.changed(AccessChangedV1(patient=cmd.patient, version=version).model_dump(), key=key)
        await self.store.mark_effects_done(cmd.command_id, outcome.at)
        if planner.keeps_sealed_password(cmd):
            await self.store.forget_sealed_presence(cmd.command_id)  # the letter is on its way: keep the hash only
        log.info("access command applied" if outcome.accepted else "access command refused", command=cmd.command,
                 reason=outcome.reason)

    async def document_visibility(self, event: DocumentVisibilityChangedV1) -> None:
        """records hid or showed a document: an internal command, applied by the patient's partition owner."""
        command = SetDocumentVisibility(command="set-document-visibility", command_id=f"vis-{event.event_id}",
                                        patient=event.patient_matricule, actor=RECORDS, document_id=event.document_id,
                                        blocked=event.blocked)
        await self.out.command(command.model_dump(mode="json"), key=event.patient_matricule.encode())
