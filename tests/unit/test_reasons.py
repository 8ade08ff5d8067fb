import pytest
from pydantic import ValidationError

from schemas.lab_result import LabResultV1
from services.kit.errors import BadMessage, is_bad_input, reason
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


