"""records' pure domain: versions, corrections, withdrawal, order independence, attachment rules."""

from __future__ import annotations

import base64
import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.lab_result import LabResultKey, LabResultV1
from schemas.records import DocumentChange
from services.records.domain import documents as domain
from tests.support import encode, lab_result

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def version(message_id: str, status: str, hour: int, **overrides: Any) -> dict[str, Any]:
    body = lab_result("LAB1", report="R1", message_id=message_id, status=status,
                      collected_at="2026-11-19T23:00:00+01:00", reported_at=f"2026-11-20T{hour:02d}:00:00+01:00",
                      **overrides)
    if status == "cancelled":
        body["observations"] = []
    return domain.to_version(LabResultV1.model_validate_json(encode(body)), NOW, None)


def fold(versions: list[dict[str, Any]]) -> tuple[dict[str, Any], list[DocumentChange | None]]:
    doc: dict[str, Any] | None = None
    changes = []
    for v in versions:
        doc, change = domain.apply(doc, "LAB1", "R1", dict(v))
        changes.append(change)
    assert doc is not None
    return doc, changes


def test_ids_are_deterministic_and_distinct() -> None:
    assert domain.document_id("LAB1", "R1") == domain.document_id("LAB1", "R1")
    assert len({domain.document_id("LAB1", "R1"), domain.document_id("LAB1", "R2"),
                domain.document_id("LAB2", "R1"), domain.version_id("LAB1", "R1")}) == 4
    assert domain.event_id("d", "m1") == domain.event_id("d", "m1") != domain.event_id("d", "m2")


@given(st.lists(st.text(st.characters(exclude_categories=("Cs",))), min_size=1, max_size=4))
def test_ids_are_the_standard_name_based_uuids(parts: list[str]) -> None:
    """Every stored id and event id is uuid5(NAMESPACE, parts joined by U+001F): computed without the UUID class,
    the same text as before (ids already stored and events already sent keep matching)."""
    assert domain._id(*parts) == str(uuid.uuid5(domain.NAMESPACE, "\x1f".join(parts)))
    assert uuid.UUID(domain._id(*parts)).version == 5


def test_a_correction_supersedes_and_keeps_the_history() -> None:
    doc, changes = fold([version("m1", "final", 10), version("m2", "corrected", 11, title="Hémogramme corrigé")])
    assert changes == [DocumentChange.ADDED, DocumentChange.CORRECTED]
    assert doc["current"]["message_id"] == "m2" and doc["title"] == "Hémogramme corrigé"
    assert [v["message_id"] for v in doc["versions"]] == ["m1", "m2"] and doc["version_count"] == 2
    assert doc["status"] == "active"


def test_a_correction_before_its_original_still_wins() -> None:
    doc, changes = fold([version("m2", "corrected", 11), version("m1", "final", 10)])
    assert changes == [DocumentChange.ADDED, None]  # the late original only joins the history
    assert doc["current"]["message_id"] == "m2"
    assert [v["message_id"] for v in doc["versions"]] == ["m1", "m2"]


def test_cancelled_withdraws_the_document() -> None:
    doc, changes = fold([version("m1", "final", 10), version("m3", "cancelled", 12)])
    assert changes[-1] is DocumentChange.WITHDRAWN and doc["status"] == "withdrawn"


def test_the_same_message_twice_changes_nothing() -> None:
    doc, _ = fold([version("m1", "final", 10)])
    again, change = domain.apply(doc, "LAB1", "R1", version("m1", "final", 10))
    assert again is doc and change is None


statuses = st.sampled_from(["preliminary", "final", "corrected", "cancelled"])


@given(st.lists(st.tuples(statuses, st.integers(0, 23)), min_size=1, max_size=5), st.randoms())
def test_the_outcome_does_not_depend_on_arrival_order(specs: list[tuple[str, int]], rnd: Any) -> None:
    versions = [version(f"m{i}", status, hour) for i, (status, hour) in enumerate(specs)]
    shuffled = versions[:]
    rnd.shuffle(shuffled)
    first, _ = fold(versions)
    second, _ = fold(shuffled)
    for field in ("current", "status", "title", "version_count", "tokens", "document_date"):
        assert first[field] == second[field], field
    assert [v["message_id"] for v in first["versions"]] == [v["message_id"] for v in second["versions"]]


def test_every_permutation_of_three_versions_agrees() -> None:
    versions = [version("a", "preliminary", 9), version("b", "final", 10), version("c", "corrected", 11)]
    outcomes = {fold(list(p))[0]["current"]["message_id"] for p in itertools.permutations(versions)}
    assert outcomes == {"c"}


def test_search_tokens_fold_case_and_accents() -> None:
    assert domain.tokens("Hémoglobine glyquée", "LAB-Bionext", None) == ["bionext", "glyquee", "hemoglobine", "lab"]


def test_times_in_the_future_are_rejected_beyond_the_skew() -> None:
    result = LabResultV1.model_validate_json(encode(lab_result("LAB1")))
    domain.check_times(result, result.reported_at + timedelta(minutes=1))
    domain.check_times(result, result.reported_at - timedelta(minutes=4))  # within the 5-minute skew
    with pytest.raises(domain.Rejected, match="reported_at is in the future"):
        domain.check_times(result, result.reported_at - timedelta(minutes=6))


@pytest.mark.parametrize(("declared", "data", "reason"), [
    ("application/pdf", b"\x89PNG\r\n\x1a\nxxxx", "content is image/png, not the declared application/pdf"),
    ("image/png", b"%PDF-1.7 ...", "content is application/pdf, not the declared image/png"),
    ("image/jpeg", b"<html>", "content is unknown, not the declared image/jpeg"),
    ("application/pdf", b"%PDF-" + b"0" * (5 * 1024 * 1024), "at most 5242880 bytes"),
])
def test_attachments_must_be_what_they_claim_and_small(declared: str, data: bytes, reason: str) -> None:
    with pytest.raises(domain.Rejected, match=reason):
        domain.sniff(declared, data)


def test_real_pdf_jpeg_png_pass() -> None:
    for declared, data in (("application/pdf", b"%PDF-1.4\n"), ("image/jpeg", b"\xff\xd8\xff\xe0JFIF"),
                           ("image/png", b"\x89PNG\r\n\x1a\n\0\0")):
        domain.sniff(declared, data)
    assert base64.b64encode(b"%PDF-1.4\n")


def test_key_must_name_the_report() -> None:
    result = LabResultV1.model_validate_json(encode(lab_result("LAB1", report="R1")))
    domain.check_key(LabResultKey(laboratory_id="LAB1", report_id="R1"), result)
    with pytest.raises(domain.Rejected, match="key does not match"):
        domain.check_key(LabResultKey(laboratory_id="LAB1", report_id="R2"), result)
