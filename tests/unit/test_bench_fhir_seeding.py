"""The FHIR bench's seeded data (`bench.seeding.corrected`, `bench.fhir.mesh.in_circle`): a corrected document keeps
its first version in its history, as records keeps it; a seeded patient's access puts the bench's professional in
her circle, as access would decide it."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from bench.fhir.mesh import PRO, in_circle
from bench.seeding import corrected, documents, numbered_matricule
from services.access.domain.decisions import Action, Actor, decide
from services.access.store import decode_access


def test_a_corrected_document_has_two_versions_the_correction_current() -> None:
    rng = random.Random(3)
    first = documents(1, [numbered_matricule(7)], rng)[0]
    fixed = corrected(first, rng)
    assert fixed["_id"] == first["_id"] and fixed["version_count"] == 2 and fixed["blocked"] is False
    assert [v["status"] for v in fixed["versions"]] == ["final", "corrected"]
    assert fixed["versions"][0]["message_id"] == first["current"]["message_id"]
    assert fixed["current"]["reported_at"] > first["current"]["reported_at"]
    assert len(fixed["current"]["observations"]) == len(first["current"]["observations"])


def test_the_seeded_access_lets_the_professional_read() -> None:
    access, patient = decode_access(in_circle()), numbered_matricule(1)
    now = datetime(2026, 12, 7, tzinfo=UTC)
    decision = decide(access, Actor("professional", PRO), Action.READ, patient, now, "some-document")
    assert decision.allowed and decision.reason == "trusted-circle"
    assert not decide(access, Actor("professional", "PRO-9999"), Action.READ, patient, now).allowed
