"""The rules of the commands about professionals and their grants: the trusted circle (add, remove, access
period), the referring GP, blocking and unblocking a professional, revoking a grant, and ending the grant the
sweeper found due (`end-grant`, an internal command) — a minor's assistant link that ends at majority stays on the
record as ended, which the adult patient confirms or removes (`assistants.py`)."""

from __future__ import annotations

from datetime import datetime

from schemas.access import CircleCommand, EndGrant, ProfessionalCommand
from schemas.fields import rfc3339

from .. import state as ev
from ..decisions import PatientAccess
from ..grants import GrantKind, rule
from .plans import Facts, Plan, refuse


def _professional_command(cmd: CircleCommand | ProfessionalCommand, access: PatientAccess, facts: Facts,
                          now: datetime) -> Plan:
    pro, member = cmd.professional_id, (GrantKind.CIRCLE, cmd.professional_id) in access.grants
    match cmd.command:
        case "add-to-circle":
            if not facts.professional_known:
                return refuse("unknown professional")
            if pro in access.blocked_professionals:
                return refuse("the professional is blocked; unblock them first")
            return Plan(True, rule(GrantKind.CIRCLE).given, [ev.CircleMemberAdded(pro, now, cmd.period_days)])
        case "remove-from-circle" | "set-referring-gp" | "set-access-period" if not member:
            return refuse("the professional is not in the trusted circle")
        case "remove-from-circle":
            return Plan(True, "removed from the trusted circle", [ev.CircleMemberRemoved(pro, now)])
        case "set-referring-gp":
            return Plan(True, "referring GP set", [ev.ReferringGpSet(pro, now)])
        case "unset-referring-gp":
            if access.referring_gp != pro:
                return refuse("the professional is not the referring GP")
            return Plan(True, "referring GP cleared; the professional stays in the trusted circle",
                        [ev.ReferringGpUnset(pro, now)])
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


def _end_grant(cmd: EndGrant, access: PatientAccess) -> Plan:
    """End the grant the sweeper found due, if it is still the one in force (not revoked nor renewed)."""
    details = {"grant": cmd.grant, "subject": cmd.subject, "ended_at": rfc3339(cmd.ends_at)}
    if cmd.grant == "assistant":  # a minor's link, at majority: kept as ended (no rights) for her to confirm
        if cmd.subject in access.assistants and access.assistants[cmd.subject] == cmd.ends_at:
            return Plan(True, "assistant link ended at the patient's majority; only the patient can confirm it",
                        [], [("assistant-link-ended", {})], details)
    else:
        grant = access.grants.get((GrantKind(cmd.grant), cmd.subject))
        if grant is not None and grant.ends_at == cmd.ends_at:
            notice = (rule(grant.kind).ended_notice, {"grant": str(cmd.grant)})
            return Plan(True, "grant ended", [ev.GrantRevoked(cmd.subject, grant.kind, cmd.ends_at)], [notice], details)
    return refuse("nothing to end: the grant was revoked, renewed or has already ended")
