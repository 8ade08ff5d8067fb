"""The rules of a professional's presence passwords and of the audit check: whether a professional may type a
password now (`presence_try`, for access's API), a new password made the patient's, a professional redeeming
one or breaking the glass (emergency access, unless the patient refused it), and how a `verify-audit-trail`
command reports the chain's check."""

from __future__ import annotations

from datetime import datetime

from schemas.access import BreakTheGlass, RedeemPresencePassword
from schemas.fields import rfc3339

from .. import presence
from .. import state as ev
from ..decisions import PRESENCE_GRANT, Actor, PatientAccess
from .plans import AuditCheck, Facts, Plan, refuse


def presence_try(professional_known: bool, wrong_guesses: int) -> tuple[int, str] | None:
    """Whether a professional may type a presence password now (access's API), as (status, reason) if not."""
    if not professional_known:
        return 403, "unknown professional"
    if wrong_guesses >= presence.MAX_TRIES:
        return 429, "too many wrong presence passwords for this patient; try again in an hour"
    return None


def _new_presence(facts: Facts, reason: str) -> Plan:
    if facts.new_presence_hash is None:
        return refuse("a presence password is generated through access's API only")
    return Plan(True, reason, presence_hash=facts.new_presence_hash)


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


def _verified(facts: Facts) -> Plan:
    """The verdict on the chain (against access's key and checkpoint) as the outcome: its reason names the first
    forged, removed or reordered entry, or one access did not write; the details give the chain's internals."""
    check = facts.audit or AuditCheck(0)
    head, checkpoint = check.head, check.checkpoint
    return Plan(True, check.reason, details={
        "entries": str(check.entries), "first_broken": "" if check.at is None else str(check.at),
        "problem": check.problem.value if check.problem is not None else "",
        "head_seq": "" if head is None else str(head.seq), "head_hash": "" if head is None else head.hash,
        "checkpoint_seq": "" if checkpoint is None else str(checkpoint.seq),
        "not_checkpointed": str(check.unchecked)})  # the chain's internals: here only
