"""How access names professionals and people, searches the directory, keeps a break-the-glass justification and
issues the agency's presence password (pure parts: domain, commands, state, audit)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from schemas.access import ActorRef, BreakTheGlass, PresencePasswordCommand
from schemas.activation import AccountActivatedV1
from services.access.domain import audit, audit_check, directory, planner
from services.access.domain import state as ev
from services.access.domain.decisions import PatientAccess
from services.access.domain.directory import ProfessionalCard
from tests.support import make_matricule

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
ADULT, PARENT = make_matricule(date(1980, 5, 17), 11), make_matricule(date(1984, 3, 9), 13)


def cards() -> list[ProfessionalCard]:
    return [ProfessionalCard("P1", "Élise", "Weber", "Médecin", "Pédiatrie"),
            ProfessionalCard("P2", "Anne", "weber", "Infirmière"),
            ProfessionalCard("P3", "Luc", "Kremer", "Médecin", "Médecine générale", "CAB-1"),
            ProfessionalCard("P4", "Wenzel", "Arendt", "Kiné", active=False),
            ProfessionalCard("P5", "Paul", "Webermann", "Médecin")]


def test_search_ignores_case_and_accents_skips_the_inactive_and_pages_without_gaps() -> None:
    found = directory.search(cards(), "WEB", None, 10)
    assert [c.professional_id for c in found] == ["P2", "P1", "P5"]  # weber/Anne, Weber/Élise, Webermann
    assert [c.professional_id for c in directory.search(cards(), "eli", None, 10)] == ["P1"]  # given name, accent
    assert directory.search(cards(), "wen", None, 10) == []  # Wenzel left the directory
    first = directory.search(cards(), "we", None, 2)
    rest = directory.search(cards(), "we", first[-1].sort_key(), 2)
    assert [c.professional_id for c in first + rest] == ["P2", "P1", "P5"]


def test_professionals_read_with_name_profession_and_specialty() -> None:
    kremer = cards()[2]
    assert (kremer.name, kremer.display()) == ("Luc Kremer", "Luc Kremer (Médecin, Médecine générale)")
    assert cards()[1].display() == "Anne weber (Infirmière)"
    long = ProfessionalCard("P9", "A" * 200, "B" * 200, "C" * 200, "D" * 200)
    assert len(long.display()) == directory.NOTICE_PARAM_MAX  # fits a notice parameter


def test_people_kinds_of_assistants_and_the_agency_command_id() -> None:
    assert directory.person_name({"given_name": "Marie", "family_name": "Weber"}) == "Marie Weber"
    assert directory.person_name({"guardians": []}) is None and directory.person_name(None) is None
    assert directory.assistant_kind(True, PARENT, [PARENT]) == "parent-of-minor"
    assert directory.assistant_kind(True, ADULT, [PARENT]) == "designated-assistant"
    assert directory.assistant_kind(False, PARENT, [PARENT]) == "designated-assistant"
    event = AccountActivatedV1(event_id="act-1", matricule=ADULT, minor=False, luxtrust=False, activated_at=T0)
    again = directory.agency_command_id(event)
    assert again == directory.agency_command_id(event.model_copy()) and again.startswith("agency-presence-")
    assert again != directory.agency_command_id(event.model_copy(update={"event_id": "act-2"}))


def test_an_assistant_link_keeps_its_start_through_confirmation_and_loses_it_when_removed() -> None:
    access = PatientAccess()
    ev.apply(access, ev.AssistantLinked(PARENT, T0, T0 + timedelta(days=900)))
    ev.apply(access, ev.AssistantLinked(PARENT, T0 + timedelta(days=800), None))  # confirmed at majority
    assert (access.assistant_since[PARENT], access.assistants[PARENT]) == (T0, None)
    ev.apply(access, ev.AssistantUnlinked(PARENT, T0 + timedelta(days=801)))
    assert PARENT not in access.assistant_since
    ev.apply(access, ev.AssistantLinked(PARENT, T0 + timedelta(days=802), None))
    assert access.assistant_since[PARENT] == T0 + timedelta(days=802)


def test_break_the_glass_names_the_professional_and_carries_the_justification_to_the_notice() -> None:
    why = "Unconscious patient in the emergency room"
    cmd = BreakTheGlass(command="break-the-glass", command_id="c1", patient=ADULT,
                        actor=ActorRef(kind="professional", id="ER-1"), justification=why)
    facts = planner.Facts(patient_known=True, professional_known=True, professional_display="Eva Roth (Médecin)")
    plan = planner.plan(cmd, PatientAccess(), facts, T0)
    assert plan.accepted and plan.notices == [("emergency-access-used", {"professional": "Eva Roth (Médecin)",
                                                                          "justification": why})]
    assert plan.details["ends_at"] == "2026-11-22T21:00:00.000Z"  # RFC 3339, UTC, Z


def test_only_the_agency_issues_a_presence_password_without_the_patients_rights() -> None:
    def issue(actor: ActorRef, known: bool = True, has_one: bool = False, kept: str | None = "$argon2id$h"
              ) -> planner.Plan:
        cmd = PresencePasswordCommand(command="generate-presence-password", command_id="c2", patient=ADULT,
                                      actor=actor, delivery="letter")
        facts = planner.Facts(patient_known=known, has_presence_password=has_one, new_presence_hash=kept)
        return planner.plan(cmd, PatientAccess(), facts, T0)

    assert issue(ActorRef(kind="operator", id=directory.AGENCY_ACTOR)).accepted
    # activation read the registry: access's own copy may not have the person yet
    assert issue(ActorRef(kind="operator", id=directory.AGENCY_ACTOR), known=False).accepted
    assert not issue(ActorRef(kind="operator", id="helpdesk-1")).accepted
    assert issue(ActorRef(kind="patient", id=ADULT)).accepted  # the owner, through the API's pending hash
    assert issue(ActorRef(kind="patient", id=ADULT), known=False).reason == "unknown patient"
    # the agency's command is asynchronous: one the patient made meanwhile is never replaced by it
    late = issue(ActorRef(kind="operator", id=directory.AGENCY_ACTOR), has_one=True)
    assert not late.accepted and late.reason.startswith("the patient already has a presence password")
    assert issue(ActorRef(kind="patient", id=ADULT), has_one=True).accepted  # the patient may always make a new one
    assert issue(ActorRef(kind="patient", id=ADULT)).presence_hash == "$argon2id$h"
    for actor in (ActorRef(kind="patient", id=ADULT), ActorRef(kind="operator", id=directory.AGENCY_ACTOR)):
        forged = issue(actor, kept=None)  # on the topic without access's API having kept a hash: refused
        assert not forged.accepted and forged.reason == "a presence password is generated through access's API only"


def test_the_justification_is_part_of_the_hash_chain_and_old_entries_keep_their_hash() -> None:
    key = b"a test key of access's audit trail"
    first = audit.append(None, ADULT, key, T0, "professional", "ER-1", "break-the-glass", None, True,
                         "emergency access granted", justification="Unconscious patient, allergies unknown")
    second = audit.append(first.head, ADULT, key, T0, "professional", "ER-1", "read", "doc-1", True, "emergency")
    assert audit_check.verify([first, second], key).intact
    assert audit_check.verify([replace(first, justification="edited"), second], key).at == 0
    plain = audit.append(None, ADULT, key, T0, "patient", ADULT, "add-to-circle", None, True, "added")
    assert b"justification" not in plain.body()  # no justification: the entry hashes as before the field existed
    legacy = replace(plain, mac="")
    assert b'"mac"' not in legacy.body() and b'"mac":"hmac-sha256"' in plain.body()  # older entries keep their hash
