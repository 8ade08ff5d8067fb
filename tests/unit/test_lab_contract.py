import base64
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.lab_result import LabResultKey, LabResultStatus, LabResultV1
from tests.support import encode, lab_result

PDF = b"%PDF-1.4\n%demo\n"


def errors_of(body: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        LabResultV1.model_validate_json(encode(body))
    return str(info.value)


def test_a_realistic_result_is_accepted() -> None:
    result = LabResultV1.model_validate_json(encode(lab_result("LAB1")))
    assert result.status is LabResultStatus.FINAL
    assert result.observations[2].value_text == "Négative"
    assert result.collected_at.utcoffset() is not None


def test_optional_fields_may_be_absent_and_unknown_fields_are_ignored() -> None:
    body = lab_result("LAB1", future_field="added later by the lab")
    for optional in ("prescriber_id", "title"):
        del body[optional]
    result = LabResultV1.model_validate_json(encode(body))
    assert result.title is None and result.prescriber_id is None


def test_cancelled_needs_no_observations_but_final_does() -> None:
    assert LabResultV1.model_validate_json(encode(lab_result("LAB1", status="cancelled", observations=[])))
    assert "at least one observation is required" in errors_of(lab_result("LAB1", observations=[]))


@pytest.mark.parametrize(("overrides", "reason"), [
    ({"status": "draft"}, "status"),
    ({"collected_at": "2026-11-21T08:00:00+01:00"}, "collected_at must not be after reported_at"),
    ({"reported_at": "2026-11-20T14:30:00"}, "timezone"),
    ({"laboratory_id": "LAB:1"}, "laboratory_id"),
    ({"title": "bad\x00title"}, "control characters"),
    ({"observations": [{"loinc": "718", "display": "Hb", "value": 1, "unit": "g/dL"}]}, "observations.0.loinc"),
    ({"observations": [{"loinc": "718-7", "display": "Hb", "value": 1}]}, "needs both value and unit"),
    ({"observations": [{"loinc": "718-7", "display": "Hb", "value": 1, "unit": "g/dL", "value_text": "x"}]},
     "not both"),
    ({"observations": [{"loinc": "718-7", "display": "Hb"}]}, "value + unit or value_text"),
    ({"observations": [{"loinc": "718-7", "display": "Hb", "value_text": "x", "interpretation": "X"}]},
     "interpretation"),
    ({"attachment": {"content_type": "application/pdf", "data_base64": "***"}}, "not valid base64"),
    ({"attachment": {"content_type": "text/html", "data_base64": "AAAA"}}, "content_type"),
])
def test_contract_violations_name_the_field(overrides: dict[str, Any], reason: str) -> None:
    assert reason in errors_of(lab_result("LAB1", **overrides))


def test_attachment_is_accepted_as_base64() -> None:
    body = lab_result("LAB1", attachment={"content_type": "application/pdf",
                                          "data_base64": base64.b64encode(PDF).decode()})
    assert LabResultV1.model_validate_json(encode(body)).attachment is not None


def test_key_is_laboratory_and_report() -> None:
    assert LabResultKey.parse(b"LAB1:R-9") == LabResultKey(laboratory_id="LAB1", report_id="R-9")
    assert LabResultKey(laboratory_id="LAB1", report_id="R-9").encode() == b"LAB1:R-9"
    for bad in (None, b"", b"no-separator", b":R1", b"LAB1:"):
        with pytest.raises(ValueError):
            LabResultKey.parse(bad)


json_values = st.recursive(st.none() | st.booleans() | st.floats() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=4), max_leaves=12)


@settings(max_examples=300)
@given(st.binary(max_size=200) | json_values.map(lambda v: encode({"v": v})))
def test_arbitrary_bytes_only_ever_raise_validation_errors(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        LabResultV1.model_validate_json(raw)
