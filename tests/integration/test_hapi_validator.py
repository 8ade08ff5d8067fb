"""HAPI FHIR's own validator (Maven Central, run by `infra.hapi`) on the FHIR R4 that laboratories send us in the
tests and the demo: the realistic lab bundle is valid (zero errors), and what the validator calls an error in a
damaged one is what records refuses too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from infra.hapi import FhirValidator
from services.records.domain import fhir
from tests.support import fhir_bundle


@pytest.fixture(scope="module")
def hapi() -> Iterator[FhirValidator]:
    with FhirValidator() as validator:
        yield validator


def test_the_lab_bundle_we_send_validates_without_error(hapi: FhirValidator) -> None:
    bundle = fhir_bundle("LAB-LNS", "R-77", "msg-1")
    assert hapi.errors(bundle) == []
    assert fhir.to_lab_result(json.dumps(bundle).encode()).report_id == "R-77"


def test_hapi_names_what_is_wrong_in_a_damaged_bundle(hapi: FhirValidator) -> None:
    bundle: dict[str, Any] = fhir_bundle("LAB-LNS", "R-77", "msg-1")
    report = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DiagnosticReport")
    report["status"] = "finished"  # not a DiagnosticReport status
    errors = hapi.errors(bundle)
    assert any("finished" in e["message"] and "DiagnosticReport" in e["location"] and e["location"].endswith(".status")
               for e in errors), errors
    with pytest.raises(ValueError, match="finished"):  # records refuses it too (a pydantic ValidationError or Rejected)
        fhir.to_lab_result(json.dumps(bundle).encode())
