"""The planner's shared types: the facts the worker gathers for a command (`Facts`, with `AuditCheck`, the verdict on
an audit trail), the plan that comes out (`Plan`: accepted or not, why, the events, notices and details)
`refuse`, the plan of a refused command, and `give`, the plan that gives a grant of a kind with a length of its own
(its audit wording, notice and end from the grant-kind table). Every family of commands plans with these."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.fields import rfc3339

from .. import state as ev
from ..audit_check import Verdict
from ..grants import GrantKind, rule

AuditCheck = Verdict  # how the patient's audit chain verified (asked for a `verify-audit-trail` command only)


@dataclass(frozen=True)
class Facts:
    patient_known: bool
    professional_known: bool = False  # the professional the command names, or the acting professional
    assistant_known: bool = False
    patient_guardians: frozenset[str] = frozenset()  # the patient's legal representatives, as the registry gives them
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
    alert: bool = False  # the notices also go to the patient's own channel (the e-mail or SMS she chose)

    @property
    def watched(self) -> bool:
        """Accepted, and it gives a grant the operators watch (the table's `watched`: a break of the glass)."""
        return self.accepted and any(isinstance(e, ev.GrantGiven) and rule(e.kind).watched for e in self.events)


def refuse(reason: str) -> Plan:
    return Plan(False, reason)


def give(kind: GrantKind, professional: str, now: datetime, params: dict[str, str]) -> Plan:
    """Give `professional` a grant of `kind` now: the table's wording, its notice (with `params`), its end."""
    row = rule(kind)
    ends = row.ends(now)
    return Plan(True, row.given, [ev.GrantGiven(kind, professional, now)],
                [(row.notice, params)] if row.notice else [], {"ends_at": rfc3339(ends)} if ends else {},
                alert=row.alert)
