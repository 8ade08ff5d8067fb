"""FHIR R4 lab bundles mapped to the lab-result contract v1."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from pydantic import ValidationError

from services.kit.errors import reason
from services.records.domain import fhir
from services.records.domain.documents import Rejected
from tests.support import fhir_bundle


def raw(bundle: dict[str, Any]) -> bytes:
    return json.dumps(bundle).encode()


def test_a_realistic_bundle_maps_to_the_contract() -> None:
    result = fhir.to_lab_result(raw(fhir_bundle("LAB-LNS", "R-77", "msg-1")))
    assert (result.laboratory_id, result.report_id, result.message_id) == ("LAB-LNS", "R-77", "msg-1")
    assert result.status.value == "final" and result.patient_matricule == "1893120105732"
    assert result.title == "Hémogramme et CRP"
    assert result.collected_at.isoformat() == "2026-11-20T08:05:00+01:00"
    hb, crp, culture = result.observations
    assert (hb.loinc, hb.value, hb.unit, hb.reference_low, hb.reference_high, hb.interpretation) == (
        "718-7", 13.2, "g/dL", 12.0, 16.0, "N")
    assert (crp.value, crp.unit, crp.interpretation, crp.reference_low) == (48.0, "mg/L", "H", None)
    assert (culture.loinc, culture.value_text) == ("600-7", "Pas de croissance")


@pytest.mark.parametrize(("fhir_status", "status"), [("amended", "corrected"), ("partial", "preliminary"),
                                                     ("entered-in-error", "cancelled")])
def test_fhir_statuses_map_to_ours(fhir_status: str, status: str) -> None:
    assert fhir.to_lab_result(raw(fhir_bundle("L", "R", "m", status=fhir_status))).status.value == status


def test_presented_form_becomes_the_attachment() -> None:
    pdf = base64.b64encode(b"%PDF-1.4\n").decode()
    bundle = fhir_bundle("L", "R", "m", presentedForm=[{"contentType": "application/pdf", "data": pdf}])
    attachment = fhir.to_lab_result(raw(bundle)).attachment
    assert attachment is not None and attachment.content_type == "application/pdf"


def without(bundle: dict[str, Any], resource_type: str) -> dict[str, Any]:
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != resource_type]
    return bundle


def test_bad_bundles_are_refused_with_a_reason() -> None:
    cases: list[tuple[bytes, str]] = [
        (raw(without(fhir_bundle("L", "R", "m"), "Patient")), "exactly one Patient"),
        (raw(without(fhir_bundle("L", "R", "m"), "Organization")), "does not resolve to a Organization"),
        (raw({**fhir_bundle("L", "R", "m"), "identifier": None}), "message id) is missing"),
    ]
    for data, expected in cases:
        with pytest.raises(Rejected, match=re.escape(expected)):
            fhir.to_lab_result(data)
    no_loinc = fhir_bundle("L", "R", "m")
    no_loinc["entry"][3]["resource"]["code"]["coding"][0]["system"] = "http://snomed.info/sct"
    with pytest.raises(Rejected, match="has no LOINC coding"):
        fhir.to_lab_result(raw(no_loinc))


@pytest.mark.parametrize(("data", "expected"), [
    (raw(fhir_bundle("L", "R", "m", matricule="1893120105733")), "patient_matricule: Value error, matricule check"),
    (raw({"resourceType": "Patient", "id": "x"}), "expects resource type ``Bundle``, but got ``Patient``"),
    (b"<Bundle xmlns='http://hl7.org/fhir'/>", "Invalid JSON"),
    (raw({**fhir_bundle("L", "R", "m"), "entry": "not a list"}), "entry"),
])
def test_invalid_fhir_or_contract_values_are_validation_errors(data: bytes, expected: str) -> None:
    with pytest.raises(ValidationError) as info:
        fhir.to_lab_result(data)
    assert expected in reason(info.value)
    assert "1893120105733" not in reason(info.value)
