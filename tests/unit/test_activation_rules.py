"""Activation's pure rules: codes, password policy, the order of the steps."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.activation import rules
from services.activation.app import common_passwords

KEY, M = b"k" * 32, "1893120105732"


def test_activation_codes_are_typable_derived_per_generation_and_key() -> None:
    code = rules.activation_code(KEY, M, 1)
    assert len(code) == 14 and code.count("-") == 2 and set(code.replace("-", "")) <= set(rules.ALPHABET)
    assert code == rules.activation_code(KEY, M, 1)  # a redelivered registry message re-sends the same letter
    assert code != rules.activation_code(KEY, M, 2) != rules.activation_code(b"x" * 32, M, 2)
    assert rules.normalize_code(code.lower().replace("-", " ")) == code


@given(st.text(max_size=40))
def test_a_password_is_accepted_only_when_every_rule_holds(password: str) -> None:
    problem = rules.password_problem(password, M, frozenset({"password1"}))
    ok = (len(password) >= 8 and any(c.isalpha() for c in password) and any(c.isdigit() for c in password)
          and M not in password and password.lower() != "password1")
    assert (problem is None) == ok or not password.isascii()


def test_password_reasons_and_the_bundled_common_list() -> None:
    common = common_passwords()
    assert len(common) > 10_000 and "password1" in common
    assert rules.password_problem("short1", M, common) == "the password needs at least 8 characters"
    assert rules.password_problem("12345678", M, common) == "the password needs at least one letter"
    assert rules.password_problem("abcdefgh", M, common) == "the password needs at least one digit"
    assert rules.password_problem(f"a{M}", M, common) == "the password must not contain the matricule"
    assert rules.password_problem("Password1", M, common) == "this password is too common"
    assert rules.password_problem("Moselle-Riesling-1987", M, common) is None


def test_steps_run_in_order_with_a_reason_otherwise() -> None:
    assert rules.step_refusal("", "set-password") == "start the activation with the letter's code first"
    assert rules.step_refusal("code-verified", "confirm") == "step out of order: set-password comes next"
    assert rules.step_refusal("secured", "skip-luxtrust") is None
    assert rules.step_refusal("active", "verify-otp") == "the account is already active"
    assert rules.mask_address("marie.weber@example.lu") == "m***@example.lu"
    assert rules.mask_address("+352621123456") == "+352******456"
    assert len({rules.new_otp() for _ in range(50)}) > 40 and all(len(rules.new_otp()) == 6 for _ in range(20))


def test_professional_assertions_are_verified_in_constant_time_and_never_crash() -> None:
    from services.gateway.professional import sign, verify

    key = b"k" * 32
    token = sign(key, "DR-1", 2_000_000_000)
    assert verify(key, token, 1_900_000_000) == "DR-1"
    assert verify(key, token, 2_000_000_001) is None  # expired
    assert verify(b"x" * 32, token, 1_900_000_000) is None  # another key
    for garbage in ("", ".", "é.é", "a.\ud800", token + "0", token.replace(".", "..")):
        assert verify(key, garbage, 1_900_000_000) is None
