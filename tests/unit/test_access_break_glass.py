"""Break-the-glass (issue 24, "Trust II"): a justification that reads like one ("aaaaaaaaaaaaaaa" passed the contract's
15 characters), the patient alerted on her own channel as well as in the portal, and the professionals who break
the glass on 3 or more patients in 24 hours shown to operators (ids and counts only). The pure rules, the planner,
and the service and access's console API over the in-memory store."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.access import AccessCommandV1, AccessStatsV1
from services.access.domain import emergency, planner
from services.access.domain.decisions import PatientAccess
from services.access.domain.directory import ProfessionalCard
from services.access.domain.emergency import Use, frequent, justification_problem
from tests.fakes.access import FakeAccess
from tests.inprocess import FakeClock
from tests.support import make_matricule

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
PATIENTS = [make_matricule(date(1970 + i, 3, 4), 20 + i) for i in range(4)]
ER, OTHER = "ER-1", "ER-2"
REASONS = {emergency.REPEATS, emergency.FEW_WORDS, emergency.FEW_LETTERS}

GOOD = ["Patient unconscious in the emergency room, allergies unknown",
        "Pt in ER, BP low, no ID",  # short clinical shorthand still reads like a sentence
        "Patiente inconsciente aux urgences, allergies inconnues",
        "Bewusstloser Patient in der Notaufnahme, Schifffahrt-Unfall",  # three f's in a row are German, not noise
        "Unfallopfer, bewusstlos, Blutgruppe unbekannt"]
BAD = {"aaaaaaaaaaaaaaa": emergency.REPEATS,
       "urgent urgent urgent": emergency.FEW_WORDS,
       "test test test test": emergency.FEW_WORDS,
       "emergency!!!!!!!!!!!!": emergency.FEW_WORDS,
       "123456789012345 99": emergency.FEW_WORDS,
       "ab ab ab ba ba ba aab": emergency.FEW_LETTERS,
       "abc abc bca cab": emergency.FEW_LETTERS,
       "Patient unconscious zzzzzz": emergency.REPEATS,
       "x y z x y z x y z x y z": emergency.FEW_WORDS}


@pytest.mark.parametrize("text", GOOD)
def test_a_real_justification_passes(text: str) -> None:
    assert justification_problem(text) is None


@pytest.mark.parametrize(("text", "reason"), BAD.items())
def test_noise_is_refused_with_the_reason(text: str, reason: str) -> None:
    assert justification_problem(text) == reason


@given(st.characters(), st.integers(min_value=15, max_value=500))
def test_one_character_repeated_never_passes(char: str, times: int) -> None:
    assert justification_problem(char * times) in REASONS


VOCABULARY = ["patient", "unconscious", "allergies", "unknown", "ambulance", "bleeding", "cardiac", "arrest",
              "trauma", "overdose", "sepsis", "stroke", "urgences", "inconscient", "Notaufnahme", "bewusstlos",
              "accident", "road", "no", "ID", "BP", "low", "ER"]


@given(st.lists(st.sampled_from(VOCABULARY), min_size=3, max_size=40).filter(
           lambda words: len({w.casefold() for w in words}) >= 3),
       st.sampled_from([" ", ", ", "; ", " - ", ". "]))
def test_any_sentence_of_three_different_words_passes(words: list[str], separator: str) -> None:
    """Every word of the vocabulary has 5 different letters or more with its neighbours, and none repeats a letter
    4 times: any sentence of 3 different ones reads like a justification."""
    assert justification_problem(separator.join(words)) is None


@given(st.text(max_size=600))
def test_the_rule_answers_any_text_with_a_fixed_reason_never_the_text(text: str) -> None:
    reason = justification_problem(text)
    assert reason is None or reason in REASONS  # fixed sentences: nothing typed is echoed


def test_the_planner_refuses_noise_before_anything_else_and_alerts_on_a_real_one() -> None:
    facts = planner.Facts(patient_known=True, professional_known=True, professional_display="Eva Roth (Médecin)")

    def glass(justification: str) -> planner.Plan:
        cmd = AccessCommandV1.model_validate({"command": "break-the-glass", "command_id": "g-1", "patient": PATIENTS[0],
                                              "actor": {"kind": "professional", "id": ER},
                                              "justification": justification}).root
        return planner.plan(cmd, PatientAccess(), facts, T0)

    noise = glass("aaaaaaaaaaaaaaa")
    assert (noise.accepted, noise.reason, noise.events, noise.notices) == (False, emergency.REPEATS, [], [])
    used = glass(GOOD[0])
    assert used.accepted and used.alert and used.notices == [
        ("emergency-access-used", {"professional": "Eva Roth (Médecin)", "justification": GOOD[0]})]


def test_the_professionals_breaking_the_glass_on_three_patients_in_24_hours_are_shown() -> None:
    now = T0 + timedelta(hours=30)
    uses = [Use(ER, PATIENTS[0], now - timedelta(hours=23, minutes=59)), Use(ER, PATIENTS[1], now - timedelta(hours=5)),
            Use(ER, PATIENTS[1], now - timedelta(hours=4)), Use(ER, PATIENTS[2], now),
            Use(OTHER, PATIENTS[0], now - timedelta(hours=1)), Use(OTHER, PATIENTS[0], now - timedelta(hours=2)),
            Use(OTHER, PATIENTS[0], now - timedelta(hours=3)), Use(OTHER, PATIENTS[1], now - timedelta(hours=25)),
            Use(OTHER, PATIENTS[2], now - timedelta(hours=24))]  # exactly 24 h ago: out of the window
    assert frequent(uses, now) == [emergency.Frequent(ER, patients=3, uses=4, last_at=now)]  # OTHER: 1 patient
    assert frequent(uses, now + timedelta(minutes=1)) == []  # ER's first one left the window
    assert [f.professional_id for f in frequent(uses, now, threshold=1)] == [ER, OTHER]


class World:
    def __init__(self) -> None:
        self.clock = FakeClock(T0)
        fake = FakeAccess(self.clock)
        self.store, self.audit, self.notify, self.outcome = fake.store, fake.audit, fake.notify, fake.outcome
        self.view, self.uc = fake.view, fake.uc
        self.service = fake.uc.commands
        for m in PATIENTS:
            self.store.persons[m] = {"_id": m}
        for pro in (ER, OTHER):
            self.view.list_professional(ProfessionalCard(pro, "Eva", "Roth", "Médecin", "Urgences", None, True))

    def glass(self, patient: str, pro: str = ER, command_id: str | None = None,
              justification: str = GOOD[0]) -> bool:
        cmd = AccessCommandV1.model_validate({
            "command": "break-the-glass", "command_id": command_id or f"g-{patient}-{pro}-{self.clock():%H%M%S}",
            "patient": patient, "actor": {"kind": "professional", "id": pro}, "justification": justification}).root
        return asyncio.run(self.service.handle(cmd)).accepted

    def stats(self) -> dict[str, Any]:
        answer = asyncio.run(self.uc.stats()).model_dump(mode="json")
        AccessStatsV1.model_validate(answer)
        return dict(answer)


def test_the_patient_is_alerted_in_the_portal_and_on_her_own_channel_once() -> None:
    w = World()
    assert w.glass(PATIENTS[0], command_id="g-once") and w.glass(PATIENTS[0], command_id="g-once")  # redelivered
    assert [(n["template_id"], n["channel"]) for n in w.notify.bodies] == [
        ("emergency-access-used", "inapp"), ("emergency-access-used", "preferred")]
    assert w.notify.bodies[1]["parameters"]["justification"] == GOOD[0]
    assert len(w.store.glass) == 1  # counted once
    assert not w.glass(PATIENTS[1], justification="aaaaaaaaaaaaaaa") and len(w.store.glass) == 1  # refused: no count


def test_the_console_sees_a_professional_who_broke_the_glass_on_three_patients_and_no_patient() -> None:
    w = World()
    for patient in PATIENTS[:2]:
        assert w.glass(patient)
    for _ in range(3):
        w.clock.advance(minutes=10)
        assert w.glass(PATIENTS[0], OTHER)  # often, but on one patient
    assert w.stats()["break_the_glass"] == {"window_hours": 24, "threshold": 3, "professionals": []}
    w.clock.advance(hours=1)
    assert w.glass(PATIENTS[2])
    watch = w.stats()["break_the_glass"]
    assert watch["professionals"] == [{"professional_id": ER, "patients": 3, "uses": 3,
                                       "last_at": "2026-11-22T10:30:00.000Z"}]
    assert not any(m in json.dumps(watch) for m in PATIENTS)  # ids and counts: never a patient
    assert set(w.stats()["grants"]) == {"active", "expiring_24h", "expired"}
    w.clock.advance(hours=23, minutes=31)  # the first two leave the sliding day
    assert w.stats()["break_the_glass"]["professionals"] == []
