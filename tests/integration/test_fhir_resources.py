"""The DSP's FHIR R4 resources (`services.gateway.fhir.resources`) checked by HAPI FHIR's own validator: a lab report
with its values and a correction, a withdrawn one, a patient's upload, their files, a search page, the history of a
corrected report, an error — every one with zero errors."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.hapi import FhirValidator
from schemas.records_api import DocumentDetail, DocumentFile
from services.gateway.fhir import resources as fhir
from services.gateway.fhir.ids import PatientIds

MATRICULE = "1893120105732"
T0 = datetime(2026, 11, 20, 7, 5, tzinfo=UTC)
DOC = "3f2b6c1e-8d5a-5e7f-9a0b-1c2d3e4f5a6b"


def _version(n: int, status: str, current: bool, hb: float, change: str | None, with_file: bool = False) -> Any:
    return {"version": n, "status": status, "current": current, "change": change, "title": "Hémogramme et CRP",
            "collected_at": T0, "reported_at": T0 + timedelta(hours=n),
            "received_at": T0 + timedelta(hours=n, seconds=3), "has_file": with_file,
            "observations": [
                {"loinc": "718-7", "display": "Hémoglobine", "value": hb, "unit": "g/dL", "reference_low": 12.0,
                 "reference_high": 16.0, "interpretation": "N" if hb >= 12 else "L"},
                {"loinc": "1988-5", "display": "CRP", "value": 48.0, "unit": "mg/L", "reference_high": 5.0,
                 "interpretation": "H"},
                {"loinc": "600-7", "display": "Hémoculture", "value_text": "Pas de croissance"}]}


def lab_report(status: str = "active", corrected: bool = True) -> DocumentDetail:
    versions = [_version(1, "final", not corrected, 13.5, "added")]
    if corrected:
        versions.append(_version(2, "corrected", True, 6.1, "corrected", with_file=True))
    return DocumentDetail.model_validate({
        "id": DOC, "document_type": "lab-result", "title": "Hémogramme et CRP", "author": "LAB-LNS",
        "laboratory_name": "Laboratoire national de santé", "document_date": T0, "reported_at": T0 + timedelta(hours=2),
        "status": status, "blocked": False, "version_count": len(versions), "has_file": corrected,
        "laboratory_id": "LAB-LNS", "prescriber_id": "PRO-1000", "observations": versions[-1]["observations"],
        "versions": versions, "file": {"content_type": "application/pdf", "size": 1234} if corrected else None})


def upload() -> DocumentDetail:
    return DocumentDetail.model_validate({
        "id": "9a8b7c6d-5e4f-5a3b-8c2d-1e0f9a8b7c6d", "document_type": "patient-upload", "title": "Ordonnance",
        "author": "patient", "document_date": T0, "reported_at": T0, "status": "active", "blocked": False,
        "version_count": 1, "has_file": True, "laboratory_id": None, "prescriber_id": None, "observations": [],
        "versions": [{"version": 1, "status": "final", "current": True, "change": "added", "title": "Ordonnance",
                      "collected_at": None, "reported_at": T0, "received_at": T0, "observations": [],
                      "has_file": True}],
        "file": {"content_type": "image/png", "size": 99}})


@pytest.fixture(scope="module")
def hapi() -> Iterator[FhirValidator]:
    with FhirValidator() as validator:
        yield validator


PID = PatientIds(b"k" * 32).of(MATRICULE)
BASE = "http://127.0.0.1:8100/fhir/r4"


def test_a_patient_and_her_documents_validate(hapi: FhirValidator) -> None:
    report, withdrawn, mine = lab_report(), lab_report("withdrawn", corrected=False), upload()
    resources = [fhir.patient(PID, MATRICULE, [("Marie", "Weber")]),
                 *(fhir.document_reference(d, PID) for d in (report, withdrawn, mine)),
                 fhir.diagnostic_report(report, fhir.current_version(report), PID),
                 *fhir.report_observations(report, fhir.current_version(report), PID),
                 fhir.binary(DocumentFile(document_id=DOC, version=2, content_type="application/pdf", size=4,
                                          data_base64=base64.b64encode(b"%PDF").decode())),
                 fhir.operation_outcome("forbidden", "the patient blocked this professional")]
    for resource in resources:
        assert hapi.errors(resource) == [], resource["resourceType"]


def test_a_corrected_reports_history_and_a_search_page_validate(hapi: FhirValidator) -> None:
    report = lab_report()
    history = fhir.history(report, PID, BASE)
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]
    assert [e["resource"]["status"] for e in history["entry"]] == ["corrected", "final"]
    assert hapi.errors(history) == []
    page = fhir.searchset([fhir.document_reference(report, PID)], 3, BASE, f"{BASE}/DocumentReference?_count=1",
                          f"{BASE}/DocumentReference?_count=1&_page_token=abc")
    assert page["total"] == 3 and page["link"][1]["relation"] == "next"
    assert hapi.errors(page) == []


def test_the_values_carry_units_ranges_and_flags() -> None:
    report = lab_report()
    hb, crp, culture = fhir.report_observations(report, fhir.current_version(report), PID)
    assert hb["valueQuantity"] == {"value": 6.1, "unit": "g/dL", "system": fhir.UCUM, "code": "g/dL"}
    assert hb["referenceRange"] == [{"low": {"value": 12.0, "unit": "g/dL", "system": fhir.UCUM, "code": "g/dL"},
                                     "high": {"value": 16.0, "unit": "g/dL", "system": fhir.UCUM, "code": "g/dL"}}]
    assert hb["interpretation"][0]["coding"][0]["code"] == "L" and hb["status"] == "corrected"
    assert crp["referenceRange"] == [{"high": {"value": 5.0, "unit": "mg/L", "system": fhir.UCUM, "code": "mg/L"}}]
    assert culture["valueString"] == "Pas de croissance" and "referenceRange" not in culture
    assert hb["performer"] == [{"identifier": {"system": fhir.LABORATORY_SYSTEM, "value": "LAB-LNS"},
                                "display": "Laboratoire national de santé"}]


def test_patient_ids_are_opaque_stable_and_unforgeable() -> None:
    ids = PatientIds(b"k" * 32)
    assert ids.of(MATRICULE) == ids.of(MATRICULE) == PID and MATRICULE not in PID and len(PID) <= 64
    assert ids.matricule(PID) == MATRICULE
    assert PatientIds(b"o" * 32).matricule(PID) is None  # another key: not ours
    tampered = PID[:-2] + ("a" if PID[-2] != "a" else "b") + PID[-1]
    assert ids.matricule(tampered) is None and ids.matricule("") is None and ids.matricule("x" * 65) is None
    assert ids.matricule("../../etc") is None
