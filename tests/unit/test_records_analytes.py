"""An analyte's history in records' read API (`/v1/documents/values`, issue 27), pure: every result of a LOINC code
in the current versions of the lab results, oldest first, each with its document, date, laboratory and range."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.records.domain import views


def _lab(doc_id: str, day: int, *observations: dict[str, Any]) -> dict[str, Any]:
    at = datetime(2026, 1, day, 8, tzinfo=UTC)
    current = {"status": "final", "title": f"Bilan {day}", "reported_at": at, "observations": list(observations)}
    return {"_id": doc_id, "document_type": "lab-result", "author": "LAB-1", "title": f"Bilan {day}",
            "document_date": at, "reported_at": at, "status": "active", "version_count": 1, "current": current,
            "versions": [current], "laboratory_id": "LAB-1"}


def _hb(value: float, unit: str = "g/dL") -> dict[str, Any]:
    return {"loinc": "718-7", "display": "Hémoglobine", "value": value, "unit": unit, "reference_low": 12.0,
            "reference_high": 16.0}


def test_every_result_of_an_analyte_oldest_first_with_its_document_and_laboratory() -> None:
    docs = [_lab("d3", 20, _hb(12.6)), _lab("d1", 2, _hb(13.1), {"loinc": "600-7", "display": "Hémoculture",
                                                                   "value_text": "Négative"}),
            _lab("d2", 9, {"loinc": "2093-3", "display": "Cholestérol", "value": 5.6, "unit": "mmol/L"}),
            _lab("d4", 25, _hb(124.0, "g/L"))]
    hb, chol, none = views.analytes(["718-7", "2093-3", "1234-5"], docs, {"LAB-1": "Laboratoire Un"}.get)
    assert [r.document_id for r in hb.results] == ["d1", "d3", "d4"] and hb.display == "Hémoglobine"
    assert [(r.observation.value, r.observation.unit) for r in hb.results] == [(13.1, "g/dL"), (12.6, "g/dL"),
                                                                                (124.0, "g/L")]
    assert hb.results[0].laboratory_name == "Laboratoire Un" and hb.results[0].title == "Bilan 2"
    assert hb.results[0].observation.reference_low == 12.0
    assert [r.document_id for r in chol.results] == ["d2"]
    assert none.results == [] and none.display is None and none.loinc == "1234-5"
