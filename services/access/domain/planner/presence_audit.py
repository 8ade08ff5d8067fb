"""The rules of a professional's presence passwords and of the audit check: whether a professional may type a
password now (`presence_try`, for access's API) and what the patient is told of wrong guesses (`guesses_notice`),
a new password made the patient's, a professional redeeming one or breaking the glass (emergency access, with a
justification that reads like one, unless the patient refused it), and how a `verify-audit-trail` command reports
the chain's check."""

from __future__ import annotations

from datetime import datetime

from schemas.access import BreakTheGlass, RedeemPresencePassword

from .. import presence
from ..decisions import Actor, PatientAccess
from ..emergency import justification_problem
from ..grants import GrantKind
from .plans import AuditCheck, Facts, Plan, give, refuse

PAUSED = ("too many wrong presence passwords for this patient from all professionals; tries are paused for up to "
          "an hour")


def presence_try(professional_known: bool, wrong_guesses: int, wrong_on_patient: int = 0) -> tuple[int, str] | None:
    """Whether a professional may type a presence password now (access's API), as (status, reason) if not:
    `wrong_guesses` are theirs on this patient, `wrong_on_patient` every professional's on the patient's current
    password, both in the sliding hour."""
    if not professional_known:
        return 403, "unknown professional"
    if wrong_guesses >= presence.MAX_TRIES:
        return 429, "too many wrong presence passwords for this patient; try again in an hour"
    if wrong_on_patient >= presence.PATIENT_MAX_TRIES:
        return 429, PAUSED
    return None


def guesses_notice(wrong_on_patient: int) -> str | None:
    """After a wrong guess, the patient's count of them in the hour: the notice she gets (in-app and on her own
    channel), at the 3rd and at the cap — or None."""
    if wrong_on_patient == presence.TELL_PATIENT_AT:
        return "presence-password-guesses"
    if wrong_on_patient == presence.PATIENT_MAX_TRIES:
        return "presence-password-guesses-paused"
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
        problem = justification_problem(cmd.justification)
        if problem is not None:
            return refuse(problem)
        if access.emergency_refused:
            return refuse("the patient has refused emergency access")
        return give(GrantKind.EMERGENCY, actor.id, now, {"professional": named, "justification": cmd.justification})
    if not facts.has_presence_password:
        return refuse("the patient has no presence password")
    if not facts.presence_checked:
        return refuse("a presence password is redeemed through access's API only")
    return give(GrantKind.PRESENCE, actor.id, now, {"professional": named})


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
