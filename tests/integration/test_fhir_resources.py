"""The DSP's FHIR R4 resources (`services.gateway.fhir`) checked by HAPI FHIR's own validator: a lab report with its
values and a correction, a withdrawn one, a patient's upload, their files, a search page, the history of a corrected
report, an error, and a patient's whole DSP and summary as she takes them away — every one with zero errors."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.hapi import FhirValidator
from schemas.access import AccessStateV1, AuditEntryV1
from schemas.records_api import DocumentDetail, DocumentFile
from services.gateway.fhir import export
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


def _state() -> AccessStateV1:
    return AccessStateV1.model_validate({
        "patient": MATRICULE, "version": 3, "referring_gp": None, "blocked_documents": [], "assistants": [],
        "emergency_refused": True, "presence_password": True,
        "grants": [{"professional_id": "PRO-1000", "name": "Dr Paul Hoffmann", "profession": "Médecin",
                    "specialty": None, "kind": "trusted-circle", "granted_at": T0, "ends_at": None},
                   {"professional_id": "PRO-1001", "name": "Dr Anne Klein", "profession": "Médecin",
                    "specialty": None, "kind": "trusted-circle", "granted_at": T0, "ends_at": T0 + timedelta(days=30)}],
        "blocked_professionals": [{"professional_id": "PRO-2000", "name": "Dr Jean Faber", "profession": None,
                                   "specialty": None}],
        "consents": [{"consent": "organ-donation", "value": False, "at": T0, "by": MATRICULE},
                     {"consent": "organ-donation", "value": True, "at": T0 + timedelta(days=1), "by": MATRICULE}]})


def _trail() -> list[AuditEntryV1]:
    return [AuditEntryV1.model_validate(e) for e in (
        {"at": T0, "who": {"kind": "patient", "id": MATRICULE, "name": "Marie Weber"}, "action": "add-to-circle",
         "document_id": None, "allowed": True, "reason": "owner"},
        {"at": T0 + timedelta(hours=1), "who": {"kind": "professional", "id": "PRO-1000", "name": "Dr Paul Hoffmann"},
         "action": "read", "document_id": DOC, "allowed": True, "reason": "trusted-circle"},
        {"at": T0 + timedelta(hours=2), "who": {"kind": "professional", "id": "PRO-3000", "name": "Dr Luc Urban"},
         "action": "break-the-glass", "document_id": None, "allowed": True, "reason": "emergency",
         "justification": "unconscious after a road accident, allergies unknown"},
        {"at": T0 + timedelta(hours=3), "who": {"kind": "professional", "id": "PRO-2000", "name": "Dr Jean Faber"},
         "action": "read", "document_id": None, "allowed": False, "reason": "professional blocked by the patient"})]


def test_her_whole_dsp_and_her_summary_validate(hapi: FhirValidator) -> None:
    report, mine = lab_report(), upload()
    files = [DocumentFile(document_id=DOC, version=2, content_type="application/pdf", size=4,
                          data_base64=base64.b64encode(b"%PDF").decode())]
    now = T0 + timedelta(days=3)
    everything = export.everything(PID, MATRICULE, [("Marie", "Weber")], [report, mine], files, _state(), _trail(),
                                   BASE, now, "0b2c2b8e-0000-4000-8000-000000000001")
    assert hapi.errors(everything) == []
    kinds = [e["resource"]["resourceType"] for e in everything["entry"]]
    assert kinds.count("DiagnosticReport") == 2 and kinds.count("Provenance") == 2  # every version, who made it
    assert kinds.count("Observation") == 6 and kinds.count("AuditEvent") == 4 and kinds.count("Binary") == 1
    consents = {e["resource"]["id"]: e["resource"] for e in everything["entry"]
                if e["resource"]["resourceType"] == "Consent"}
    assert consents["consent-organ-donation"]["provision"]["type"] == "permit"  # her latest choice stands
    assert consents["consent-emergency-access"]["provision"]["type"] == "deny"
    assert len(consents["consent-trusted-circle"]["provision"]["provision"]) == 2
    refused = next(e["resource"] for e in everything["entry"] if e["resource"]["id"] == "audit-3")
    assert refused["outcome"] == "4" and refused["outcomeDesc"] == "professional blocked by the patient"
    summary = export.summary(PID, MATRICULE, [("Marie", "Weber")], [report, mine], _state(), BASE, now,
                             "0b2c2b8e-0000-4000-8000-000000000002")
    assert hapi.errors(summary) == []
    assert summary["entry"][0]["resource"]["resourceType"] == "Composition"
