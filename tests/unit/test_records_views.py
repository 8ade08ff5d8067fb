"""records' read views, pure: an upload's one version, a version's file, the cursors a list gives out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.kit.paging import BadCursor, encode_cursor
from services.records.domain import views
from services.records.domain.listing import after, ms

AT = datetime(2026, 11, 20, 7, 5, 0, 123000, tzinfo=UTC)
UPLOAD = {"_id": "u-1", "document_type": "patient-upload", "author": "patient", "title": "Ordonnance",
          "document_date": AT, "reported_at": AT, "status": "active", "blocked": True, "version_count": 1,
          "current": {"attachment": {"file_id": "u-1", "content_type": "image/png"}, "size": 10}}


def test_an_upload_has_one_version_of_its_own_with_its_file() -> None:
    [version] = views.versions(UPLOAD)
    assert (version.version, version.status, version.current, version.change, version.has_file) == (
        1, "final", True, "added", True)
    assert version.observations == [] and version.collected_at is None
    assert views.attachment(UPLOAD, None) == (1, {"file_id": "u-1", "content_type": "image/png"})
    assert views.attachment(UPLOAD, 1) == views.attachment(UPLOAD, None)
    assert views.attachment(UPLOAD, 2) is None
    summary = views.summary(UPLOAD).model_dump(mode="json")
    assert summary["blocked"] is True and summary["document_date"] == "2026-11-20T07:05:00.123Z"


def test_a_version_stored_before_changes_were_kept_has_none_and_no_file() -> None:
    old = {"status": "final", "title": "Hémogramme", "collected_at": AT, "reported_at": AT, "observations": [
        {"loinc": "718-7", "display": "Hémoglobine", "value": 13.9, "unit": "g/dL"}], "attachment": None}
    doc = {**UPLOAD, "_id": "d-1", "document_type": "lab-result", "author": "LAB", "versions": [old],
           "current": old, "laboratory_id": "LAB"}
    detail = views.detail(doc, None)
    assert detail.versions[0].change is None and detail.versions[0].has_file is False
    assert detail.observations[0].value == 13.9 and detail.file is None and detail.has_file is False
    assert views.attachment(doc, None) is None


def test_a_cursor_is_only_good_for_the_list_that_gave_it_out() -> None:
    cursor = encode_cursor("document_date:desc", ms(AT), "d-1")
    assert after(cursor, "document_date:desc") == (AT, "d-1")  # milliseconds, as the database keeps them
    assert after(None, "document_date:desc") is None
    for bad in (encode_cursor("document_date:asc", ms(AT), "d-1"), encode_cursor("document_date:desc", True, "d-1"),
                encode_cursor("document_date:desc", "2026-11-20", "d-1"), encode_cursor("x", 1), "!!!"):
        with pytest.raises(BadCursor):
            after(bad, "document_date:desc")
