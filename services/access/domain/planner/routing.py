"""`plan`, the one entry of access's planner: it routes a command to its family's rule (the agency's presence
password, the internal grant ends and document visibility, a professional's presence password or
break-the-glass, an operator's audit check, an assistant's confirmation), asks `decide` whether the actor may
manage the record, then plans the patient's own commands. Pure: the command, the state, the facts and `now` in,
a `Plan` out."""

from __future__ import annotations

from datetime import datetime

from schemas.access import (
    AnyCommand,
    AssistantCommand,
    BreakTheGlass,
    CircleCommand,
    ConsentCommand,
    EmergencySetting,
    EndGrant,
    PresencePasswordCommand,
    ProfessionalCommand,
    RedeemPresencePassword,
    SetDocumentVisibility,
    VerifyAuditTrail,
)

from .. import state as ev
from ..decisions import Action, Actor, PatientAccess, decide
from ..directory import AGENCY_ACTOR
from .assistants import _assistant, _confirm_assistant
from .circle import _end_grant, _professional_command
from .plans import Facts, Plan, refuse
from .presence_audit import _new_presence, _professional_action, _verified


def plan(cmd: AnyCommand, access: PatientAccess, facts: Facts, now: datetime) -> Plan:
    actor = Actor(cmd.actor.kind, cmd.actor.id)
    if isinstance(cmd, PresencePasswordCommand) and actor == Actor("operator", AGENCY_ACTOR):
        # activation found the person in the registry before activating them; access's copy may lag behind.
        # One the patient made meanwhile (the agency's command is asynchronous) is never replaced by it.
        if facts.has_presence_password:
            return refuse("the patient already has a presence password; the agency's is not posted")
        return _new_presence(facts, "presence password issued by the agency on activation; posted by letter")
    if not facts.patient_known:
        return refuse("unknown patient")
    if isinstance(cmd, EndGrant | SetDocumentVisibility):
        if actor.kind != "operator":
            return refuse("an internal command of the access service")
        return _end_grant(cmd, access) if isinstance(cmd, EndGrant) else Plan(
            True, "document hidden from professionals" if cmd.blocked else "document visible to professionals",
            [ev.DocumentBlocked(cmd.document_id, now, cmd.blocked)])
    if isinstance(cmd, RedeemPresencePassword | BreakTheGlass):
        return _professional_action(cmd, access, facts, actor, now)
    if isinstance(cmd, VerifyAuditTrail) and actor.kind == "operator":
        return _verified(facts)
    if isinstance(cmd, AssistantCommand) and cmd.command == "confirm-assistant":
        return _confirm_assistant(cmd, access, actor, now)
    rights = decide(access, actor, Action.MANAGE, cmd.patient, now)
    if not rights.allowed:
        return refuse(rights.reason)
    match cmd:
        case CircleCommand() | ProfessionalCommand():
            return _professional_command(cmd, access, facts, now)
        case EmergencySetting(refused=refused):
            return Plan(True, "emergency access refused" if refused else "emergency access allowed",
                        [ev.EmergencyAccessSettingChanged(now, refused)])
        case AssistantCommand():
            return _assistant(cmd, access, facts, now)
        case PresencePasswordCommand():
            return _new_presence(facts, "presence password generated; the previous one no longer works")
        case ConsentCommand(consent=consent, value=value):
            return Plan(True, f"consent recorded: {consent} = {'yes' if value else 'no'}",
                        consent={"consent": consent, "value": value, "at": now, "by": actor.id})
        case _:
            return _verified(facts)
