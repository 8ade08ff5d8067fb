"""access's grant-kind table (`services/access/domain/grants.py`): every value that depends on a grant's kind —
its length, its precedence, whether the patient's emergency setting turns it off, the notice when it is given and
when it ends, the audit wording of the command that gives it — is read from the table. Changing a row changes the
fold, the decision, the plan and the grant's end, with no other edit."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, get_args

import pytest

from schemas.access import AccessCommandV1, AnyCommand, EndGrant, GrantKindName
from schemas.fields import rfc3339
from services.access.domain import decisions, planner
from services.access.domain import state as ev
from services.access.domain.decisions import Action, Actor, PatientAccess, decide
from services.access.domain.directory import ProfessionalCard
from services.access.domain.grants import GRANTS, RULES, GrantKind, rule
from tests.fakes.access import FakeAccess
from tests.inprocess import FakeClock
from tests.support import make_matricule

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
PATIENT = make_matricule(date(1980, 5, 17), 11)
PRO = "DR-1"
DOCTOR = Actor("professional", PRO)
FACTS = planner.Facts(True, professional_known=True, has_presence_password=True, presence_checked=True,
                      professional_display="Eva Roth (Médecin)")


def command(name: str, **fields: Any) -> AnyCommand:
    return AccessCommandV1.model_validate({"command": name, "command_id": f"c-{name}", "patient": PATIENT,
                                           "actor": {"kind": "professional", "id": PRO}, **fields}).root


REDEEM = command("redeem-presence-password")
GLASS = command("break-the-glass", justification="Unconscious patient brought to the emergency room")
GIVES = {GrantKind.PRESENCE: REDEEM, GrantKind.EMERGENCY: GLASS}  # the command that gives each timed kind


def folded(*events: ev.AccessEvent) -> PatientAccess:
    access = PatientAccess()
    for event in events:
        ev.apply(access, event)
    return access


def test_the_table_has_one_row_per_kind_and_the_contract_names_exactly_those_kinds() -> None:
    assert [r.kind for r in GRANTS] == list(GrantKind) and set(RULES) == set(GrantKind)
    assert set(get_args(GrantKindName)) == {k.value for k in GrantKind}
    assert [r.kind for r in GRANTS] == [GrantKind.CIRCLE, GrantKind.PRESENCE, GrantKind.EMERGENCY]  # precedence
    assert rule(GrantKind.PRESENCE).duration == timedelta(hours=24)
    assert rule(GrantKind.EMERGENCY).duration == timedelta(hours=12) and rule(GrantKind.EMERGENCY).refusable
    assert rule(GrantKind.CIRCLE).duration is None  # the circle's access period decides (none: no end)


@pytest.mark.parametrize("kind", [GrantKind.PRESENCE, GrantKind.EMERGENCY])
def test_the_command_that_gives_a_grant_reads_its_wording_notice_and_end_from_the_table(kind: GrantKind) -> None:
    row = rule(kind)
    made = planner.plan(GIVES[kind], PatientAccess(), FACTS, T0)
    assert made.accepted and made.reason == row.given  # the audit wording (outcome and audit entry)
    assert made.events == [ev.GrantGiven(kind, PRO, T0)]
    assert [template for template, _ in made.notices] == [row.notice] and made.alert is row.alert
    assert made.notices[0][1]["professional"] == "Eva Roth (Médecin)"
    assert row.duration is not None and made.details == {"ends_at": rfc3339(T0 + row.duration)}
    access = folded(*made.events)
    assert access.grants[(kind, PRO)].ends_at == row.ends(T0)  # the fold: the same end
    assert ev.time_limits(access) == {(kind.value, PRO, row.ends(T0))}  # what the sweeper is asked to end


def test_a_changed_row_changes_the_fold_the_plan_and_the_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    """The table is the only place: a row with another length, notice and wording is followed everywhere."""
    shorter = replace(RULES[GrantKind.EMERGENCY], duration=timedelta(hours=2), notice="presence-password-used",
                      alert=False, given="emergency access for two hours")
    monkeypatch.setitem(RULES, GrantKind.EMERGENCY, shorter)
    made = planner.plan(GLASS, PatientAccess(), FACTS, T0)
    assert (made.reason, made.notices[0][0], made.alert) == ("emergency access for two hours",
                                                             "presence-password-used", False)
    assert made.details == {"ends_at": "2026-11-22T11:00:00.000Z"}
    access = folded(*made.events)
    assert decide(access, DOCTOR, Action.READ, PATIENT, T0 + timedelta(hours=2) - timedelta(seconds=1)).allowed
    assert decide(access, DOCTOR, Action.READ, PATIENT, T0 + timedelta(hours=2)).reason == "the grant has expired"


def test_precedence_is_the_order_of_the_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    access = folded(ev.CircleMemberAdded(PRO, T0), ev.GrantGiven(GrantKind.PRESENCE, PRO, T0),
                    ev.GrantGiven(GrantKind.EMERGENCY, PRO, T0))
    assert decide(access, DOCTOR, Action.READ, PATIENT, T0).grant is GrantKind.CIRCLE
    ev.apply(access, ev.GrantRevoked(PRO, GrantKind.CIRCLE, T0))
    assert decide(access, DOCTOR, Action.READ, PATIENT, T0).reason == "presence-password"
    monkeypatch.setattr(decisions, "GRANTS", tuple(reversed(GRANTS)))
    assert decide(access, DOCTOR, Action.READ, PATIENT, T0).grant is GrantKind.EMERGENCY


def test_the_emergency_setting_turns_off_the_refusable_kinds_only(monkeypatch: pytest.MonkeyPatch) -> None:
    access = folded(ev.GrantGiven(GrantKind.PRESENCE, PRO, T0), ev.GrantGiven(GrantKind.EMERGENCY, PRO, T0),
                    ev.EmergencyAccessSettingChanged(T0, refused=True))
    ev.apply(access, ev.GrantRevoked(PRO, GrantKind.PRESENCE, T0))
    assert not decide(access, DOCTOR, Action.READ, PATIENT, T0).allowed  # emergency: refusable
    monkeypatch.setitem(RULES, GrantKind.EMERGENCY, replace(RULES[GrantKind.EMERGENCY], refusable=False))
    monkeypatch.setattr(decisions, "GRANTS", tuple(RULES.values()))
    assert decide(access, DOCTOR, Action.READ, PATIENT, T0).grant is GrantKind.EMERGENCY


def test_a_grants_end_tells_the_patient_with_its_kinds_ended_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    access = folded(ev.GrantGiven(GrantKind.PRESENCE, PRO, T0))
    end = EndGrant(command="end-grant", command_id="end-1", patient=PATIENT,
                   actor={"kind": "operator", "id": "access-sweeper"}, grant="presence-password", subject=PRO,
                   ends_at=T0 + timedelta(hours=24))
    internal = planner.Facts(True)
    assert planner.plan(end, access, internal, T0).notices == [("grant-expired", {"grant": "presence-password"})]
    monkeypatch.setitem(RULES, GrantKind.PRESENCE, replace(RULES[GrantKind.PRESENCE], ended_notice="first-access"))
    assert planner.plan(end, access, internal, T0).notices[0][0] == "first-access"


def test_the_operators_watch_counts_the_grants_the_table_marks_watched(monkeypatch: pytest.MonkeyPatch) -> None:
    """A break of the glass is counted because its grant is `watched`; marking another kind so counts it too."""
    assert planner.plan(GLASS, PatientAccess(), FACTS, T0).watched
    assert not planner.plan(REDEEM, PatientAccess(), FACTS, T0).watched
    monkeypatch.setitem(RULES, GrantKind.PRESENCE, replace(RULES[GrantKind.PRESENCE], watched=True))
    assert planner.plan(REDEEM, PatientAccess(), FACTS, T0).watched
    fake = FakeAccess(FakeClock(T0))
    fake.store.persons[PATIENT] = {"_id": PATIENT}
    fake.view.list_professional(ProfessionalCard(PRO, "Eva", "Roth", "Médecin", None, None, True))
    doc = asyncio.run(fake.store.load(PATIENT))
    doc.presence_hash = "$argon2id$kept"
    assert asyncio.run(fake.store.save(doc, T0))
    asyncio.run(fake.store.put_redemption("c-redeem-presence-password", PATIENT, PRO, T0))  # the API checked it
    assert asyncio.run(fake.uc.commands.handle(REDEEM)).accepted
    assert [(u.professional_id, u.patient) for u in fake.store.glass.values()] == [(PRO, PATIENT)]
