"""What a command does to a patient's access, or why it is refused. Pure: facts and `now` come in.

The worker looks up the facts (is the professional listed, is the assistant an adult in the registry, did access's
API keep a presence password's hash or check a typed one for this command, how the audit chain verifies) and
stores the outcome; every rule — and every question about a command's kind — lives here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

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
from schemas.fields import matricule_birth_date, rfc3339

from . import presence
from . import state as ev
from .decisions import PRESENCE_GRANT, Action, Actor, GrantKind, PatientAccess, decide
from .domain import AGENCY_ACTOR


@dataclass(frozen=True)
class AuditCheck:
    """How the patient's audit chain verified (asked for a `verify-audit-trail` command only)."""

    entries: int
    first_broken: int | None = None
    head_seq: int | None = None
    head_hash: str = ""


@dataclass(frozen=True)
class Facts:
    patient_known: bool
    professional_known: bool = False  # the professional the command names, or the acting professional
    assistant_known: bool = False
    has_presence_password: bool = False
    professional_display: str = ""  # how notices name that professional: name (profession, specialty)
    new_presence_hash: str | None = None  # the hash access's API (or the agency) kept for this command and patient
    presence_checked: bool = False  # access's API checked the typed password for this command, patient, professional
    audit: AuditCheck | None = None


@dataclass
class Plan:
    accepted: bool
    reason: str
    events: list[ev.AccessEvent] = field(default_factory=list)
    notices: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # in-app notices to the patient
    details: dict[str, str] = field(default_factory=dict)
    presence_hash: str | None = None  # the patient's new presence password (its hash)
    consent: dict[str, object] | None = None  # the consent to record


def refuse(reason: str) -> Plan:
    return Plan(False, reason)


def needs_audit_check(cmd: AnyCommand) -> bool:
    return isinstance(cmd, VerifyAuditTrail)


def needs_presence_hash(cmd: AnyCommand) -> bool:
    """The command makes a presence password the patient's: the planner is told which hash access's API kept."""
    return isinstance(cmd, PresencePasswordCommand)


def needs_presence_check(cmd: AnyCommand) -> bool:
    """The command redeems a presence password: the planner is told whether access's API checked it."""
    return isinstance(cmd, RedeemPresencePassword)


def sends_password(cmd: AnyCommand) -> str | None:
    """The channel a generated presence password goes out on, if the command posts one."""
    return cmd.delivery if isinstance(cmd, PresencePasswordCommand) and cmd.delivery != "none" else None


def keeps_sealed_password(cmd: AnyCommand) -> bool:
    return isinstance(cmd, PresencePasswordCommand)


def justification(cmd: AnyCommand) -> str:
    return cmd.justification if isinstance(cmd, BreakTheGlass) else ""


def ended_grant(cmd: AnyCommand) -> EndGrant | None:
    return cmd if isinstance(cmd, EndGrant) else None


def presence_try(professional_known: bool, wrong_guesses: int) -> tuple[int, str] | None:
    """Whether a professional may type a presence password now (access's API), as (status, reason) if not."""
    if not professional_known:
        return 403, "unknown professional"
    if wrong_guesses >= presence.MAX_TRIES:
        return 429, "too many wrong presence passwords for this patient; try again in an hour"
    return None


CONFIRM_WINDOW = timedelta(days=365)  # a link to a minor can be confirmed in the year before majority


def majority(matricule: str) -> datetime:
    """The instant a person turns 18 (UTC midnight of the birthday; 29 February -> 1 March)."""
    born = matricule_birth_date(matricule)
    try:
        day = born.replace(year=born.year + 18)
    except ValueError:
        day = date(born.year + 18, 3, 1)
    return datetime.combine(day, time(), tzinfo=UTC)


def is_adult(matricule: str, now: datetime) -> bool:
    return now >= majority(matricule)


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


def _new_presence(facts: Facts, reason: str) -> Plan:
    if facts.new_presence_hash is None:
        return refuse("a presence password is generated through access's API only")
    return Plan(True, reason, presence_hash=facts.new_presence_hash)


def _verified(facts: Facts) -> Plan:
    check = facts.audit or AuditCheck(0)
    broken = check.first_broken
    return Plan(True, "audit trail intact" if broken is None else f"audit trail broken at entry {broken}",
                details={"entries": str(check.entries), "first_broken": "" if broken is None else str(broken),
                         "head_seq": "" if check.head_seq is None else str(check.head_seq),
                         "head_hash": check.head_hash})  # the chain's internals: here only


def _professional_command(cmd: CircleCommand | ProfessionalCommand, access: PatientAccess, facts: Facts,
                          now: datetime) -> Plan:
    pro, member = cmd.professional_id, (GrantKind.CIRCLE, cmd.professional_id) in access.grants
    match cmd.command:
        case "add-to-circle":
            if not facts.professional_known:
                return refuse("unknown professional")
            if pro in access.blocked_professionals:
                return refuse("the professional is blocked; unblock them first")
            return Plan(True, "added to the trusted circle", [ev.CircleMemberAdded(pro, now, cmd.period_days)])
        case "remove-from-circle" | "set-referring-gp" | "set-access-period" if not member:
            return refuse("the professional is not in the trusted circle")
        case "remove-from-circle":
            return Plan(True, "removed from the trusted circle", [ev.CircleMemberRemoved(pro, now)])
        case "set-referring-gp":
            return Plan(True, "referring GP set", [ev.ReferringGpSet(pro, now)])
        case "set-access-period":
            days: int | None = getattr(cmd, "days", None)
            if days is None:
                return refuse("set-access-period needs days (0 to 365)")
            return Plan(True, f"access period set to {days} days", [ev.AccessPeriodSet(pro, now, days)])
        case "block-professional" | "unblock-professional":
            if cmd.command == "block-professional" and not facts.professional_known:
                return refuse("unknown professional")
            blocked = cmd.command == "block-professional"
            return Plan(True, "professional blocked" if blocked else "professional unblocked",
                        [ev.ProfessionalBlocked(pro, now, blocked)])
    grant: str | None = getattr(cmd, "grant", None)  # revoke-grant
    kinds = [GrantKind(grant)] if grant else list(GrantKind)
    held = [k for k in kinds if (k, pro) in access.grants]
    if not held:
        return refuse("the professional holds no such grant")
    return Plan(True, "revoked: " + ", ".join(k.value for k in held), [ev.GrantRevoked(pro, k, now) for k in held])


def _assistant(cmd: AssistantCommand, access: PatientAccess, facts: Facts, now: datetime) -> Plan:
    who = cmd.assistant
    if cmd.command == "remove-assistant":
        if who not in access.assistants:
            return refuse("not a DSP assistant of this record")
        return Plan(True, "assistant removed", [ev.AssistantUnlinked(who, now)])
    if who == cmd.patient:
        return refuse("a patient cannot be their own DSP assistant")
    if not facts.assistant_known:
        return refuse("the assistant is not in the national registry")
    if not is_adult(who, now):
        return refuse("a DSP assistant must be an adult")
    ends = None if is_adult(cmd.patient, now) else majority(cmd.patient)
    details = {"link_ends_at": rfc3339(ends)} if ends else {}
    return Plan(True, "assistant added", [ev.AssistantLinked(who, now, ends)], [("assistant-added", {})], details)


def _confirm_assistant(cmd: AssistantCommand, access: PatientAccess, actor: Actor, now: datetime) -> Plan:
    if actor.kind != "patient" or actor.id != cmd.patient:
        return refuse("only the patient themselves confirms an assistant link")
    if now < majority(cmd.patient) - CONFIRM_WINDOW:
        return refuse("a minor's assistant link can be confirmed from the year before the patient turns 18")
    if cmd.assistant not in access.assistants:
        return refuse("not a DSP assistant of this record")
    return Plan(True, "assistant link confirmed", [ev.AssistantLinked(cmd.assistant, now, None)])


def _professional_action(cmd: RedeemPresencePassword | BreakTheGlass, access: PatientAccess, facts: Facts,
                         actor: Actor, now: datetime) -> Plan:
    if actor.kind != "professional":
        return refuse("only a health professional can do this")
    if not facts.professional_known:
        return refuse("unknown professional")
    if actor.id in access.blocked_professionals:
        return refuse("professional blocked by the patient")
    named = facts.professional_display or actor.id
    if isinstance(cmd, BreakTheGlass):
        if access.emergency_refused:
            return refuse("the patient has refused emergency access")
        grant = ev.EmergencyAccessUsed(actor.id, now)
        notice = {"professional": named, "justification": cmd.justification}
        return Plan(True, "emergency access granted", [grant], [("emergency-access-used", notice)],
                    {"ends_at": rfc3339(now + ev.EMERGENCY_GRANT)})
    if not facts.has_presence_password:
        return refuse("the patient has no presence password")
    if not facts.presence_checked:
        return refuse("a presence password is redeemed through access's API only")
    return Plan(True, "presence password accepted", [ev.PresencePasswordRedeemed(actor.id, now)],
                [("presence-password-used", {"professional": named})], {"ends_at": rfc3339(now + PRESENCE_GRANT)})


def _end_grant(cmd: EndGrant, access: PatientAccess) -> Plan:
    """End the grant the sweeper found due, if it is still the one in force (not revoked nor renewed)."""
    details = {"grant": cmd.grant, "subject": cmd.subject, "ended_at": rfc3339(cmd.ends_at)}
    notice: list[tuple[str, dict[str, str]]] = [("grant-expired", {"grant": str(cmd.grant)})]
    if cmd.grant == "assistant":
        if cmd.subject in access.assistants and access.assistants[cmd.subject] == cmd.ends_at:
            return Plan(True, "assistant link ended", [ev.AssistantUnlinked(cmd.subject, cmd.ends_at)], notice,
                        details)
    else:
        grant = access.grants.get((GrantKind(cmd.grant), cmd.subject))
        if grant is not None and grant.ends_at == cmd.ends_at:
            return Plan(True, "grant ended", [ev.GrantRevoked(cmd.subject, grant.kind, cmd.ends_at)], notice, details)
    return refuse("nothing to end: the grant was revoked, renewed or has already ended")
