"""What changes a patient's access state: facts in the past tense, applied in order. Pure: no I/O.

The access worker keeps one `PatientAccess` per patient in memory (from its MongoDB snapshot, then its
events); `apply` is the only way that state changes, so the view and its tests use the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .decisions import Grant, PatientAccess
from .grants import GrantKind, rule

MAX_PERIOD_DAYS = 365


@dataclass(frozen=True)
class CircleMemberAdded:
    professional_id: str
    at: datetime
    period_days: int | None = None  # None: no end


@dataclass(frozen=True)
class CircleMemberRemoved:
    professional_id: str
    at: datetime


@dataclass(frozen=True)
class AccessPeriodSet:
    professional_id: str
    at: datetime
    days: int  # 0..365 from `at`; 0 ends the access now


@dataclass(frozen=True)
class ProfessionalBlocked:
    professional_id: str
    at: datetime
    blocked: bool = True  # False: unblocked


@dataclass(frozen=True)
class GrantGiven:
    """A grant of a kind with a length of its own (a presence password redeemed, the glass broken): it ends its
    kind's duration after `at` (the grant-kind table, `grants.py`)."""

    kind: GrantKind
    professional_id: str
    at: datetime


@dataclass(frozen=True)
class EmergencyAccessSettingChanged:
    at: datetime
    refused: bool


@dataclass(frozen=True)
class GrantRevoked:
    professional_id: str
    kind: GrantKind
    at: datetime


@dataclass(frozen=True)
class DocumentBlocked:
    document_id: str
    at: datetime
    blocked: bool = True


@dataclass(frozen=True)
class ReferringGpSet:
    professional_id: str  # must already be in the circle
    at: datetime


@dataclass(frozen=True)
class ReferringGpUnset:
    professional_id: str  # the referring GP, who stays in the circle
    at: datetime


@dataclass(frozen=True)
class AssistantLinked:
    matricule: str
    at: datetime
    ends_at: datetime | None  # a minor's link ends at their majority unless confirmed (then None)


@dataclass(frozen=True)
class AssistantUnlinked:
    matricule: str
    at: datetime


AccessEvent = (CircleMemberAdded | CircleMemberRemoved | AccessPeriodSet | ProfessionalBlocked | GrantGiven
               | EmergencyAccessSettingChanged | GrantRevoked | DocumentBlocked | ReferringGpSet | ReferringGpUnset
               | AssistantLinked | AssistantUnlinked)


def _period_end(at: datetime, days: int | None) -> datetime | None:
    if days is None:
        return None
    if not 0 <= days <= MAX_PERIOD_DAYS:
        raise ValueError(f"an access period is 0 to {MAX_PERIOD_DAYS} days")
    return at + timedelta(days=days)


def apply(state: PatientAccess, event: AccessEvent) -> PatientAccess:
    """Apply one event in place and return the state (events arrive in the patient's partition order)."""
    match event:
        case CircleMemberAdded(pro, at, days):
            state.grants[(GrantKind.CIRCLE, pro)] = Grant(GrantKind.CIRCLE, pro, at, _period_end(at, days))
        case CircleMemberRemoved(pro, _):
            state.grants.pop((GrantKind.CIRCLE, pro), None)
            if state.referring_gp == pro:
                state.referring_gp = None
        case AccessPeriodSet(pro, at, days):
            grant = state.grants.get((GrantKind.CIRCLE, pro))
            if grant is not None:
                state.grants[(GrantKind.CIRCLE, pro)] = Grant(GrantKind.CIRCLE, pro, grant.granted_at,
                                                              _period_end(at, days))
        case ProfessionalBlocked(pro, _, blocked):
            (state.blocked_professionals.add if blocked else state.blocked_professionals.discard)(pro)
        case GrantGiven(kind, pro, at):
            state.grants[(kind, pro)] = Grant(kind, pro, at, rule(kind).ends(at))
        case EmergencyAccessSettingChanged(_, refused):
            state.emergency_refused = refused
        case GrantRevoked(pro, kind, _):
            state.grants.pop((kind, pro), None)
            if kind is GrantKind.CIRCLE and state.referring_gp == pro:
                state.referring_gp = None
        case DocumentBlocked(doc, _, blocked):
            (state.blocked_documents.add if blocked else state.blocked_documents.discard)(doc)
        case ReferringGpSet(pro, _):
            if (GrantKind.CIRCLE, pro) in state.grants:
                state.referring_gp = pro
        case ReferringGpUnset(pro, _):
            if state.referring_gp == pro:
                state.referring_gp = None
        case AssistantLinked(matricule, at, ends_at):
            if matricule not in state.assistants:  # a confirmation keeps the link's start
                state.assistant_since[matricule] = at
            state.assistants[matricule] = ends_at
        case AssistantUnlinked(matricule, _):
            state.assistants.pop(matricule, None)
            state.assistant_since.pop(matricule, None)
    return state


def time_limits(state: PatientAccess) -> set[tuple[str, str, datetime]]:
    """Every end the state holds — (kind, subject, ends_at) of time-limited grants and a minor's assistant links:
    what the sweeper acts on. The service schedules those an applied command added (after minus before)."""
    grants = {(g.kind.value, g.professional_id, g.ends_at) for g in state.grants.values() if g.ends_at is not None}
    links = {("assistant", m, end) for m, end in state.assistants.items() if end is not None}
    return grants | links
