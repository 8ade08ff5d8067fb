from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from schemas.fields import Matricule, check_matricule, matricule_birth_date
from tests.support import make_matricule

adapter = TypeAdapter(Matricule)


def test_domain_example_is_valid() -> None:
    assert adapter.validate_python("1893120105732") == "1893120105732"
    assert matricule_birth_date("1893120105732") == date(1893, 12, 1)


@pytest.mark.parametrize(("value", "reason"), [
    ("1893120105733", "check digits do not match"),   # Verhoeff digit wrong
    ("1893120105722", "check digits do not match"),   # Luhn digit wrong
    ("189312010573", "exactly 13 digits"),
    ("18931201057321", "exactly 13 digits"),
    ("18931201O5732", "exactly 13 digits"),
    ("1893133105732", "valid birth date"),             # month 13
    ("", "exactly 13 digits"),
])
def test_invalid_matricules_are_rejected_with_a_reason(value: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        adapter.validate_python(value)


@given(st.dates(min_value=date(1890, 1, 1), max_value=date(2099, 12, 31)), st.integers(0, 999))
def test_every_well_formed_matricule_is_accepted(birth: date, serial: int) -> None:
    value = make_matricule(birth, serial)
    assert check_matricule(value) == value
    assert matricule_birth_date(value) == birth


@given(st.dates(min_value=date(1890, 1, 1), max_value=date(2099, 12, 31)), st.integers(0, 999),
       st.integers(0, 12), st.integers(1, 9))
def test_any_single_digit_typo_is_caught(birth: date, serial: int, position: int, shift: int) -> None:
    value = make_matricule(birth, serial)
    typo = value[:position] + str((int(value[position]) + shift) % 10) + value[position + 1:]
    with pytest.raises(ValueError):
        check_matricule(typo)
