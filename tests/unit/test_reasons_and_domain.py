from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas.lab_result import LabResultKey, LabResultV1
from services.kit.errors import BadMessage, is_bad_input, reason
from services.records import domain
from tests.support import encode, lab_result


def test_validation_reason_never_echoes_the_input() -> None:
    body = lab_result("LAB1", patient_matricule="1893120105733", title="x" * 300)
    with pytest.raises(ValidationError) as info:
        LabResultV1.model_validate_json(encode(body))
    text = reason(info.value)
    assert "1893120105733" not in text and "xxxx" not in text
    assert "patient_matricule: Value error, matricule check digits do not match" in text
    assert "title: String should have at most 200 characters" in text


def test_bad_input_is_classified() -> None:
    assert is_bad_input(BadMessage("x"))
    assert is_bad_input(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"))
    assert not is_bad_input(RuntimeError("bug"))
    assert not is_bad_input(ConnectionError("down"))


def test_result_id_is_deterministic_per_laboratory_and_message() -> None:
    assert domain.result_id("LAB1", "m-1") == domain.result_id("LAB1", "m-1")
    assert domain.result_id("LAB1", "m-1") != domain.result_id("LAB2", "m-1")
    assert domain.result_id("LAB1", "m-1") != domain.result_id("LAB1", "m-2")


def test_key_must_name_the_report_in_the_value() -> None:
    result = LabResultV1.model_validate_json(encode(lab_result("LAB1", report="R1")))
    domain.check_key(LabResultKey(laboratory_id="LAB1", report_id="R1"), result)
    with pytest.raises(domain.KeyMismatch):
        domain.check_key(LabResultKey(laboratory_id="LAB1", report_id="R2"), result)


def test_document_keeps_the_result_and_moves_the_attachment_out() -> None:
    body = lab_result("LAB1", attachment={"content_type": "application/pdf", "data_base64": "JVBERi0xLjQK"})
    received = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    stored = domain.to_document(LabResultV1.model_validate_json(encode(body)), received)
    assert stored.attachment == b"%PDF-1.4\n"
    assert stored.document["attachment"] == {"file_id": stored.document["_id"], "content_type": "application/pdf",
                                             "size": 9}
    assert "data_base64" not in str(stored.document)
    assert stored.document["received_at"] == received
    assert stored.document["document_type"] == "lab-result"
