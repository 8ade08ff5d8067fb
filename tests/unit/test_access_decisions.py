"""Access decisions: each rule, then randomized histories against a straightforward reference implementation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.access.domain import state as ev
from services.access.domain.decisions import Action, Actor, PatientAccess, decide
from services.access.domain.grants import GrantKind

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
PATIENT, PARENT = "1893120105732", "1984030901234"
DR, OTHER = Actor("professional", "PRO-1"), Actor("professional", "PRO-2")


def replay(*events: Any) -> PatientAccess:
    access = PatientAccess()
    for event in events:
        ev.apply(access, event)
    return access


def test_owner_and_assistant_have_the_owners_rights_others_do_not() -> None:
    access = PatientAccess(assistants={PARENT: T0 + timedelta(days=1)})
    assert decide(access, Actor("patient", PATIENT), Action.MANAGE, PATIENT, T0).reason == "owner"
    assert decide(access, Actor("patient", PARENT), Action.MANAGE, PATIENT, T0).reason == "DSP assistant"
    assert decide(access, Actor("patient", PARENT), Action.READ, PATIENT, T0 + timedelta(days=1)).reason == (
        "the assistant link has ended")
    assert not decide(access, Actor("patient", "2001010100012"), Action.READ, PATIENT, T0).allowed


def test_presence_password_gives_exactly_24_hours() -> None:
    access = replay(ev.GrantGiven(GrantKind.PRESENCE, "PRO-1", T0))
    assert decide(access, DR, Action.READ, PATIENT, T0 + timedelta(hours=24) - timedelta(microseconds=1)).allowed
    late = decide(access, DR, Action.READ, PATIENT, T0 + timedelta(hours=24))
    assert (late.allowed, late.reason) == (False, "the grant has expired")
    assert decide(access, OTHER, Action.READ, PATIENT, T0).reason == "no grant for this professional"


def test_blocking_beats_every_grant_and_blocked_documents_are_hidden() -> None:
    access = replay(ev.CircleMemberAdded("PRO-1", T0), ev.DocumentBlocked("doc-9", T0))
    assert decide(access, DR, Action.READ, PATIENT, T0, document="doc-1").allowed
    assert decide(access, DR, Action.READ, PATIENT, T0, document="doc-9").reason == "document blocked by the patient"
    assert decide(access, Actor("patient", PATIENT), Action.READ, PATIENT, T0, document="doc-9").allowed
    ev.apply(access, ev.ProfessionalBlocked("PRO-1", T0))
    assert decide(access, DR, Action.READ, PATIENT, T0).reason == "professional blocked by the patient"


def test_emergency_access_only_where_not_refused_and_professionals_never_manage() -> None:
    access = replay(ev.GrantGiven(GrantKind.EMERGENCY, "PRO-1", T0))
    assert decide(access, DR, Action.READ, PATIENT, T0).grant is GrantKind.EMERGENCY
    ev.apply(access, ev.EmergencyAccessSettingChanged(T0, refused=True))
    assert not decide(access, DR, Action.READ, PATIENT, T0).allowed
    assert decide(access, DR, Action.MANAGE, PATIENT, T0).reason == (
        "only the patient and their DSP assistants manage access")
    assert decide(access, DR, Action.READ, PATIENT, T0, known_professional=False).reason == "unknown professional"


def test_revocation_and_access_periods_take_effect_at_the_next_decision() -> None:
    access = replay(ev.CircleMemberAdded("PRO-1", T0), ev.AccessPeriodSet("PRO-1", T0, days=30))
    assert decide(access, DR, Action.READ, PATIENT, T0 + timedelta(days=29)).allowed
    ended = decide(access, DR, Action.READ, PATIENT, T0 + timedelta(days=30))  # at its end, no sweep needed
    assert (ended.allowed, ended.reason) == (False, "the grant has expired")
    ev.apply(access, ev.GrantRevoked("PRO-1", GrantKind.CIRCLE, T0))
    assert not decide(access, DR, Action.READ, PATIENT, T0).allowed


def reference(history: list[Any], pro: str, doc: str | None, now: datetime) -> tuple[bool, GrantKind | None]:
    """Re-read the whole history for one professional and document, the slow and obvious way."""
    blocked = doc_blocked = refused = False
    grants: dict[GrantKind, tuple[datetime, datetime | None] | None] = dict.fromkeys(GrantKind)
    for e in history:
        mine = getattr(e, "professional_id", pro) == pro
        if isinstance(e, ev.ProfessionalBlocked) and mine:
            blocked = e.blocked
        elif isinstance(e, ev.DocumentBlocked) and e.document_id == doc:
            doc_blocked = e.blocked
        elif isinstance(e, ev.EmergencyAccessSettingChanged):
            refused = e.refused
        elif isinstance(e, ev.CircleMemberAdded) and mine:
            end = None if e.period_days is None else e.at + timedelta(days=e.period_days)
            grants[GrantKind.CIRCLE] = (e.at, end)
        elif isinstance(e, ev.CircleMemberRemoved) and mine:
            grants[GrantKind.CIRCLE] = None
        elif isinstance(e, ev.AccessPeriodSet) and mine and grants[GrantKind.CIRCLE]:
            grants[GrantKind.CIRCLE] = (grants[GrantKind.CIRCLE][0], e.at + timedelta(days=e.days))  # type: ignore[index]
        elif isinstance(e, ev.GrantGiven) and e.kind is GrantKind.PRESENCE and mine:
            grants[GrantKind.PRESENCE] = (e.at, e.at + timedelta(hours=24))
        elif isinstance(e, ev.GrantGiven) and e.kind is GrantKind.EMERGENCY and mine:
            grants[GrantKind.EMERGENCY] = (e.at, e.at + timedelta(hours=12))
        elif isinstance(e, ev.GrantRevoked) and mine:
            grants[e.kind] = None
    if blocked or doc_blocked:
        return False, None
    for kind in (GrantKind.CIRCLE, GrantKind.PRESENCE, GrantKind.EMERGENCY):
        window = grants[kind]
        if window and window[0] <= now and (window[1] is None or now < window[1]):
            if kind is GrantKind.EMERGENCY and refused:
                continue
            return True, kind
    return False, None


pros, docs = st.sampled_from(["PRO-1", "PRO-2"]), st.sampled_from(["d1", "d2"])


KINDS = ["add", "remove", "period", "block", "presence", "emergency", "setting", "revoke", "doc"]
params = st.tuples(st.sampled_from(KINDS), pros, docs, st.none() | st.integers(0, 365), st.booleans(),
                   st.sampled_from(list(GrantKind)), st.integers(0, 3 * 24 * 60))


def event(kind: str, pro: str, doc: str, days: int | None, flag: bool, grant: GrantKind, at: datetime) -> Any:
    return {
        "add": lambda: ev.CircleMemberAdded(pro, at, days),
        "remove": lambda: ev.CircleMemberRemoved(pro, at),
        "period": lambda: ev.AccessPeriodSet(pro, at, days or 0),
        "block": lambda: ev.ProfessionalBlocked(pro, at, flag),
        "presence": lambda: ev.GrantGiven(GrantKind.PRESENCE, pro, at),
        "emergency": lambda: ev.GrantGiven(GrantKind.EMERGENCY, pro, at),
        "setting": lambda: ev.EmergencyAccessSettingChanged(at, flag),
        "revoke": lambda: ev.GrantRevoked(pro, grant, at),
        "doc": lambda: ev.DocumentBlocked(doc, at, flag),
    }[kind]()


@st.composite
def histories(draw: st.DrawFn) -> list[Any]:
    at, history = T0, []
    for kind, pro, doc, days, flag, grant, gap in draw(st.lists(params, max_size=25)):
        at += timedelta(minutes=gap)
        history.append(event(kind, pro, doc, days, flag, grant, at))
    return history


@settings(max_examples=400)
@given(histories(), pros, st.none() | docs, st.integers(0, 60 * 24 * 40))
def test_decisions_match_the_reference_on_random_histories(history: list[Any], pro: str, doc: str | None,
                                                           minutes_after: int) -> None:
    now = (history[-1].at if history else T0) + timedelta(minutes=minutes_after)
    got = decide(replay(*history), Actor("professional", pro), Action.READ, PATIENT, now, document=doc)
    assert (got.allowed, got.grant) == reference(history, pro, doc, now)
