"""access's planner (`services.access.domain.planner.plan`): every command kind, accepted and refused, from facts
alone — no broker, no database (issue 14). The state is built with `state.apply`, as the worker builds it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from schemas.access import AccessCommandV1, AnyCommand
from services.access.domain import directory, planner
from services.access.domain import state as ev
from services.access.domain.audit import Head
from services.access.domain.audit_check import Problem
from services.access.domain.decisions import Action, Actor, PatientAccess, decide
from services.access.domain.grants import RULES, GrantKind
from tests.support import make_matricule

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
OWNER, ADULT = make_matricule(date(1980, 5, 17), 11), make_matricule(date(1984, 3, 9), 13)
MINOR = make_matricule(date(2010, 6, 1), 17)
PRO, OTHER = "DR-1", "DR-2"
ME = {"kind": "patient", "id": OWNER}
DOCTOR = {"kind": "professional", "id": PRO}
KNOWN = planner.Facts(patient_known=True, professional_known=True, assistant_known=True)


def command(name: str, actor: dict[str, str] = ME, patient: str = OWNER, **fields: Any) -> AnyCommand:
    return AccessCommandV1.model_validate({"command": name, "command_id": f"c-{name}", "patient": patient,
                                           "actor": actor, **fields}).root


def plan(cmd: AnyCommand, access: PatientAccess | None = None, facts: planner.Facts = KNOWN,
         now: datetime = T0) -> planner.Plan:
    return planner.plan(cmd, access or PatientAccess(), facts, now)


def with_events(*events: ev.AccessEvent) -> PatientAccess:
    access = PatientAccess()
    for event in events:
        ev.apply(access, event)
    return access


def member(days: int | None = None) -> PatientAccess:
    return with_events(ev.CircleMemberAdded(PRO, T0 - timedelta(days=1), days))


def refused(result: planner.Plan, reason: str) -> bool:
    return not result.accepted and result.reason == reason and not result.events and not result.notices


def test_nobody_but_the_owner_or_an_assistant_manages_and_an_unknown_patient_is_refused() -> None:
    for name, extra in [("add-to-circle", {"professional_id": PRO}), ("set-emergency-access", {"refused": True}),
                        ("record-consent", {"consent": "organ-donation", "value": True}),
                        ("add-assistant", {"assistant": ADULT})]:
        assert refused(plan(command(name, DOCTOR, **extra)), "only the patient and their DSP assistants manage access")
        assert refused(plan(command(name, {"kind": "patient", "id": ADULT}, **extra)),
                       "not the owner nor a DSP assistant of this record")
        assert refused(plan(command(name, **extra), facts=planner.Facts(patient_known=False)), "unknown patient")
    helper = with_events(ev.AssistantLinked(ADULT, T0, None))
    assert plan(command("set-emergency-access", {"kind": "patient", "id": ADULT}, refused=False), helper).accepted


def test_the_trusted_circle() -> None:
    add = command("add-to-circle", professional_id=PRO, period_days=30)
    assert plan(add).events == [ev.CircleMemberAdded(PRO, T0, 30)]
    assert refused(plan(add, facts=planner.Facts(patient_known=True)), "unknown professional")
    blocked = with_events(ev.ProfessionalBlocked(PRO, T0))
    assert refused(plan(add, blocked), "the professional is blocked; unblock them first")
    for name, extra in [("remove-from-circle", {}), ("set-referring-gp", {}), ("set-access-period", {"days": 5})]:
        cmd = command(name, professional_id=PRO, **extra)
        assert refused(plan(cmd), "the professional is not in the trusted circle")
        assert plan(cmd, member()).accepted
    assert plan(command("remove-from-circle", professional_id=PRO), member()).events == [
        ev.CircleMemberRemoved(PRO, T0)]
    assert plan(command("set-referring-gp", professional_id=PRO), member()).events == [ev.ReferringGpSet(PRO, T0)]
    unset = command("unset-referring-gp", professional_id=PRO)
    assert refused(plan(unset, member()), "the professional is not the referring GP")
    gp = with_events(ev.CircleMemberAdded(PRO, T0, None), ev.ReferringGpSet(PRO, T0))
    cleared = plan(unset, gp)
    assert cleared.events == [ev.ReferringGpUnset(PRO, T0)]
    after = with_events(ev.CircleMemberAdded(PRO, T0, None), ev.ReferringGpSet(PRO, T0), ev.ReferringGpUnset(PRO, T0))
    assert after.referring_gp is None and (GrantKind.CIRCLE, PRO) in after.grants  # still in the circle
    period = plan(command("set-access-period", professional_id=PRO, days=7), member())
    assert (period.reason, period.events) == ("access period set to 7 days", [ev.AccessPeriodSet(PRO, T0, 7)])
    assert refused(plan(command("set-access-period", professional_id=PRO), member()),
                   "set-access-period needs days (0 to 365)")


def test_blocking_and_revoking() -> None:
    block = plan(command("block-professional", professional_id=PRO))
    assert (block.reason, block.events) == ("professional blocked", [ev.ProfessionalBlocked(PRO, T0, True)])
    assert refused(plan(command("block-professional", professional_id=PRO), facts=planner.Facts(True)),
                   "unknown professional")
    unblock = plan(command("unblock-professional", professional_id=PRO), facts=planner.Facts(True))
    assert unblock.accepted and unblock.events == [ev.ProfessionalBlocked(PRO, T0, False)]  # a delisted one too
    held = with_events(ev.CircleMemberAdded(PRO, T0, None), ev.GrantGiven(GrantKind.EMERGENCY, PRO, T0))
    everything = plan(command("revoke-grant", professional_id=PRO), held)
    assert everything.reason == "revoked: trusted-circle, emergency"
    assert everything.events == [ev.GrantRevoked(PRO, GrantKind.CIRCLE, T0),
                                 ev.GrantRevoked(PRO, GrantKind.EMERGENCY, T0)]
    one = plan(command("revoke-grant", professional_id=PRO, grant="emergency"), held)
    assert one.events == [ev.GrantRevoked(PRO, GrantKind.EMERGENCY, T0)]
    assert refused(plan(command("revoke-grant", professional_id=OTHER), held), "the professional holds no such grant")


def test_emergency_setting_and_consent() -> None:
    refuse = plan(command("set-emergency-access", refused=True))
    assert (refuse.reason, refuse.events) == ("emergency access refused", [ev.EmergencyAccessSettingChanged(T0, True)])
    consent = plan(command("record-consent", consent="organ-donation", value=False))
    assert consent.reason == "consent recorded: organ-donation = no"
    assert consent.consent == {"consent": "organ-donation", "value": False, "at": T0, "by": OWNER}


def test_assistants() -> None:
    add = plan(command("add-assistant", assistant=ADULT))
    assert add.events == [ev.AssistantLinked(ADULT, T0, None)] and add.notices == [("assistant-added", {})]
    assert refused(plan(command("add-assistant", assistant=OWNER)), "a patient cannot be their own DSP assistant")
    assert refused(plan(command("add-assistant", assistant=ADULT), facts=planner.Facts(True)),
                   "the assistant is not in the national registry")
    assert refused(plan(command("add-assistant", assistant=MINOR)), "a DSP assistant must be an adult")
    linked = with_events(ev.AssistantLinked(ADULT, T0, None))
    assert plan(command("remove-assistant", assistant=ADULT), linked).events == [ev.AssistantUnlinked(ADULT, T0)]
    assert refused(plan(command("remove-assistant", assistant=ADULT)), "not a DSP assistant of this record")


PARENT, STRANGER = ADULT, make_matricule(date(1975, 1, 30), 23)
OF_MINOR = planner.Facts(patient_known=True, assistant_known=True, patient_guardians=frozenset({PARENT}))


def test_a_minors_assistant_is_one_of_their_legal_representatives_whoever_asks() -> None:
    parent_helps = with_events(ev.AssistantLinked(PARENT, T0, planner.majority(MINOR)))
    for actor, access in (({"kind": "patient", "id": MINOR}, None),  # the minor's own account (a parent activated it)
                          ({"kind": "patient", "id": PARENT}, parent_helps)):  # a parent already assisting
        stranger = command("add-assistant", actor, patient=MINOR, assistant=STRANGER)
        assert refused(plan(stranger, access, OF_MINOR), planner.NOT_A_REPRESENTATIVE)
        assert refused(plan(stranger, access, KNOWN), planner.NOT_A_REPRESENTATIVE)  # no guardian recorded at all
    parent = plan(command("add-assistant", {"kind": "patient", "id": MINOR}, patient=MINOR, assistant=PARENT),
                  facts=OF_MINOR)
    assert parent.events == [ev.AssistantLinked(PARENT, T0, planner.majority(MINOR))]
    assert parent.details == {"link_ends_at": "2028-06-01T00:00:00.000Z"}  # the minor's 18th birthday
    adult_now = command("add-assistant", {"kind": "patient", "id": MINOR}, patient=MINOR, assistant=STRANGER)
    assert plan(adult_now, facts=KNOWN, now=planner.majority(MINOR)).events == [  # an adult chooses anyone
        ev.AssistantLinked(STRANGER, planner.majority(MINOR), None)]


def test_only_the_patient_once_18_keeps_an_assistant_link_past_majority() -> None:
    majority = planner.majority(MINOR)
    linked = with_events(ev.AssistantLinked(PARENT, T0, majority))
    confirm = command("confirm-assistant", patient=MINOR, actor={"kind": "patient", "id": MINOR}, assistant=PARENT)
    for now in (T0, majority - timedelta(days=1), majority - timedelta(milliseconds=1)):  # whatever the window
        assert refused(plan(confirm, linked, now=now), planner.MINOR_CONFIRMS)
    by_assistant = command("confirm-assistant", patient=MINOR, actor={"kind": "patient", "id": PARENT},
                           assistant=PARENT)
    for now in (T0, majority, majority + timedelta(days=3)):
        assert refused(plan(by_assistant, linked, now=now), "only the patient themselves confirms an assistant link")

    # at majority the sweeper ends the link: kept on the record as ended (no rights), for the adult to confirm
    sweeper = {"kind": "operator", "id": "access-sweeper"}
    end = plan(command("end-grant", sweeper, patient=MINOR, grant="assistant", subject=PARENT,
                       ends_at=majority.isoformat()), linked, now=majority)
    assert end.accepted and end.events == [] and end.notices == [("assistant-link-ended", {})]
    after = majority + timedelta(days=40)
    as_parent = Actor("patient", PARENT)
    assert decide(linked, as_parent, Action.MANAGE, MINOR, after).reason == "the assistant link has ended"
    kept = plan(confirm, linked, now=after)
    assert (kept.reason, kept.events) == ("assistant link confirmed", [ev.AssistantLinked(PARENT, after, None)])
    ev.apply(linked, kept.events[0])
    assert linked.assistants == {PARENT: None} and linked.assistant_since == {PARENT: T0}  # the link's start kept
    assert decide(linked, as_parent, Action.MANAGE, MINOR, after).allowed
    assert refused(plan(confirm, linked, now=after), "the assistant link has no end: there is nothing to confirm")
    assert refused(plan(confirm, PatientAccess(), now=after), "not a DSP assistant of this record")


def test_presence_passwords_need_the_facts_access_api_recorded() -> None:
    generate = command("generate-presence-password", delivery="none")
    kept = planner.Facts(True, new_presence_hash="$argon2id$x")
    assert plan(generate, facts=kept).presence_hash == "$argon2id$x"
    assert refused(plan(generate, facts=planner.Facts(True)), "a presence password is generated through access's "
                                                               "API only")
    redeem = command("redeem-presence-password", DOCTOR)
    facts = planner.Facts(True, professional_known=True, has_presence_password=True, presence_checked=True,
                           professional_display="Dr One")
    accepted = plan(redeem, facts=facts)
    assert accepted.events == [ev.GrantGiven(GrantKind.PRESENCE, PRO, T0)]
    assert accepted.notices == [("presence-password-used", {"professional": "Dr One"})]
    assert accepted.details == {"ends_at": "2026-11-23T09:00:00.000Z"}
    unchecked = planner.Facts(True, professional_known=True, has_presence_password=True)
    assert refused(plan(redeem, facts=unchecked), "a presence password is redeemed through access's API only")
    none = planner.Facts(True, professional_known=True, presence_checked=True)
    assert refused(plan(redeem, facts=none), "the patient has no presence password")
    assert refused(plan(command("redeem-presence-password")), "only a health professional can do this")
    assert refused(plan(redeem, with_events(ev.ProfessionalBlocked(PRO, T0)), facts),
                   "professional blocked by the patient")
    assert refused(plan(redeem, facts=planner.Facts(True, has_presence_password=True, presence_checked=True)),
                   "unknown professional")


def test_the_guess_counts_are_facts_of_the_presence_try() -> None:
    assert planner.presence_try(True, 4) is None and planner.presence_try(True, 4, 9) is None
    assert planner.presence_try(True, 5) == (429, "too many wrong presence passwords for this patient; try again "
                                                   "in an hour")
    assert planner.presence_try(True, 0, 10) == (429, planner.PAUSED)  # every professional's, on this patient
    own_first = planner.presence_try(True, 5, 10)
    assert own_first is not None and own_first[1] != planner.PAUSED  # the professional's own cap is said first
    assert planner.presence_try(False, 0) == (403, "unknown professional")
    assert [planner.guesses_notice(n) for n in range(1, 12)] == [
        None, None, "presence-password-guesses", *[None] * 6, "presence-password-guesses-paused", None]


def test_breaking_the_glass() -> None:
    cmd = command("break-the-glass", DOCTOR, justification="Unconscious patient in the emergency room")
    accepted = plan(cmd)
    assert accepted.events == [ev.GrantGiven(GrantKind.EMERGENCY, PRO, T0)]
    assert accepted.alert  # also on the patient's channel
    assert accepted.details == {"ends_at": "2026-11-22T21:00:00.000Z"}
    assert planner.breaks_the_glass(cmd) and not planner.breaks_the_glass(command("set-emergency-access",
                                                                                    refused=True))
    assert planner.justification(cmd) == "Unconscious patient in the emergency room"
    assert refused(plan(cmd, with_events(ev.EmergencyAccessSettingChanged(T0, True))),
                   "the patient has refused emergency access")


def test_verifying_the_audit_trail_reads_the_check_it_is_given() -> None:
    check = planner.AuditCheck(entries=4, problem=Problem.FORGED, at=2, why="its MAC does not match its content",
                                head=Head(3, "ab"), checkpoint=Head(1, "cd"))
    by_owner = plan(command("verify-audit-trail"), facts=planner.Facts(True, audit=check))
    assert by_owner.reason == "audit trail broken at entry 2: forged (its MAC does not match its content)"
    assert by_owner.details == {"entries": "4", "first_broken": "2", "problem": "forged", "head_seq": "3",
                                "head_hash": "ab", "checkpoint_seq": "1", "not_checkpointed": "2"}
    by_ops = plan(command("verify-audit-trail", {"kind": "operator", "id": "ops-1"}),
                  facts=planner.Facts(True, audit=planner.AuditCheck(0)))
    assert by_ops.reason == "audit trail intact" and by_ops.details["first_broken"] == ""
    assert by_ops.details["problem"] == "" and by_ops.details["checkpoint_seq"] == ""
    assert refused(plan(command("verify-audit-trail", DOCTOR)),
                   "only the patient and their DSP assistants manage access")
    consent = command("record-consent", consent="organ-donation", value=True)
    assert planner.needs_audit_check(command("verify-audit-trail")) and not planner.needs_audit_check(consent)
    assert planner.needs_presence_hash(command("generate-presence-password")) and planner.needs_presence_check(
        command("redeem-presence-password", DOCTOR))
    assert not planner.needs_presence_hash(consent) and not planner.needs_presence_check(consent)


@pytest.mark.parametrize("name", ["end-grant", "set-document-visibility"])
def test_internal_commands_come_from_operators_only(name: str) -> None:
    extra = ({"grant": "emergency", "subject": PRO, "ends_at": T0.isoformat()} if name == "end-grant" else
             {"document_id": "doc-1", "blocked": True})
    assert refused(plan(command(name, **extra)), "an internal command of the access service")
    assert plan(command(name, {"kind": "operator", "id": "access-sweeper"}, **extra),
                with_events(ev.GrantGiven(GrantKind.EMERGENCY, PRO, T0 - RULES[GrantKind.EMERGENCY].duration))).accepted


def test_ending_a_grant_only_if_it_is_still_the_one_in_force() -> None:
    sweeper = {"kind": "operator", "id": "access-sweeper"}
    ends = T0 + timedelta(days=30)
    circle = with_events(ev.CircleMemberAdded(PRO, T0, 30))
    end = command("end-grant", sweeper, grant="trusted-circle", subject=PRO, ends_at=ends.isoformat())
    ended = plan(end, circle, now=ends)
    assert ended.events == [ev.GrantRevoked(PRO, GrantKind.CIRCLE, ends)]
    assert ended.notices == [("grant-expired", {"grant": "trusted-circle"})] and planner.ended_grant(end) is end
    renewed = with_events(ev.CircleMemberAdded(PRO, T0, 30), ev.AccessPeriodSet(PRO, T0 + timedelta(days=1), 90))
    assert refused(plan(end, renewed, now=ends),
                   "nothing to end: the grant was revoked, renewed or has already ended")
    link = with_events(ev.AssistantLinked(ADULT, T0, ends))
    unlink = command("end-grant", sweeper, grant="assistant", subject=ADULT, ends_at=ends.isoformat())
    assert plan(unlink, link, now=ends).accepted
    assert refused(plan(unlink, with_events(ev.AssistantLinked(ADULT, T0, None)), now=ends),
                   "nothing to end: the grant was revoked, renewed or has already ended")  # confirmed meanwhile


def test_the_agency_command_and_the_grant_ends_the_state_holds() -> None:
    agency = command("generate-presence-password", {"kind": "operator", "id": directory.AGENCY_ACTOR})
    assert plan(agency, facts=planner.Facts(False, new_presence_hash="h")).accepted
    assert planner.sends_password(agency) == "letter" and planner.keeps_sealed_password(agency)
    assert planner.sends_password(command("generate-presence-password", delivery="none")) is None
    access = member(10)
    ev.apply(access, ev.GrantGiven(GrantKind.PRESENCE, OTHER, T0))
    ev.apply(access, ev.AssistantLinked(ADULT, T0, None))
    assert ev.time_limits(access) == {("trusted-circle", PRO, T0 + timedelta(days=9)),
                                      ("presence-password", OTHER, T0 + timedelta(hours=24))}
