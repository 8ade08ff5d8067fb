"""The professional identity provider's assertion as the gateway checks it: signature first (constant time),
then sub, iat, exp and jti; at most 5 minutes of life, not issued in the future, not expired."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.gateway.pro_assertion import (
    ASSERTION_MAX_S,
    CLOCK_SKEW_S,
    AssertionRefused,
    Claims,
    check_assertion,
    sign,
    sign_claims,
)

KEY, NOW = b"k" * 32, 1_900_000_000


def refusal(token: str, now: float = NOW, key: bytes = KEY) -> str:
    with pytest.raises(AssertionRefused) as refused:
        check_assertion(key, token, now)
    return refused.value.reason


def test_a_fresh_assertion_gives_its_claims() -> None:
    token = sign(KEY, "DR-1", NOW + 300, issued=NOW, jti="jti-0001")
    assert check_assertion(KEY, token, NOW) == Claims("DR-1", NOW, NOW + 300, "jti-0001")
    assert check_assertion(KEY, token, NOW + 299).subject == "DR-1"  # usable to the last second
    assert check_assertion(KEY, sign(KEY, "DR-1", NOW + 60, issued=NOW + CLOCK_SKEW_S), NOW).subject == "DR-1"


def test_sign_defaults_to_issued_now_and_a_random_jti() -> None:
    import time

    now = int(time.time())
    first, second = (check_assertion(KEY, sign(KEY, "DR-1", now + 300), now) for _ in range(2))
    assert now <= first.issued <= now + 5 and first.jti != second.jti and len(first.jti) >= 16


def test_an_expired_assertion_is_refused() -> None:
    token = sign(KEY, "DR-1", NOW, issued=NOW - 60)
    assert refusal(token) == "the assertion has expired"
    assert refusal(token, NOW + 3600) == "the assertion has expired"


def test_an_assertion_living_longer_than_five_minutes_is_refused() -> None:
    too_long = f"an assertion must live at most {ASSERTION_MAX_S} seconds (exp - iat)"
    assert refusal(sign(KEY, "DR-1", 4_102_444_800, issued=NOW)) == too_long  # exp in 2100
    assert refusal(sign(KEY, "DR-1", NOW + 301, issued=NOW)) == too_long
    assert refusal(sign(KEY, "DR-1", NOW + 10, issued=NOW + 10)) == too_long  # exp == iat
    assert refusal(sign(KEY, "DR-1", NOW + 10, issued=NOW + 20)) == too_long  # expires before it is issued


def test_an_assertion_issued_in_the_future_is_refused() -> None:
    assert refusal(sign(KEY, "DR-1", NOW + 200, issued=NOW + CLOCK_SKEW_S + 1)) == (
        "the assertion is issued in the future")
    assert refusal(sign(KEY, "DR-1", 4_102_444_800, issued=4_102_444_700)) == "the assertion is issued in the future"


@pytest.mark.parametrize(("claims", "reason"), [
    ({"sub": "DR-1", "iat": NOW, "exp": NOW + 60}, "the assertion needs a jti"),
    ({"sub": "DR-1", "iat": NOW, "exp": NOW + 60, "jti": ""}, "the assertion needs a jti"),
    ({"sub": "DR-1", "iat": NOW, "exp": NOW + 60, "jti": 12345678}, "the assertion needs a jti"),
    ({"sub": "DR-1", "iat": NOW, "exp": NOW + 60, "jti": "short"}, "the assertion needs a jti"),
    ({"sub": "DR-1", "iat": NOW, "exp": NOW + 60, "jti": "a\x00" * 8}, "the assertion needs a jti"),
    ({"sub": "DR-1", "exp": NOW + 60, "jti": "jti-0001"}, "the assertion needs iat and exp"),
    ({"sub": "DR-1", "iat": NOW, "jti": "jti-0001"}, "the assertion needs iat and exp"),
    ({"sub": "DR-1", "iat": True, "exp": NOW + 60, "jti": "jti-0001"}, "the assertion needs iat and exp"),
    ({"sub": "DR-1", "iat": NOW, "exp": NOW + 60.5, "jti": "jti-0001"}, "the assertion needs iat and exp"),
    ({"sub": "DR-1", "iat": str(NOW), "exp": NOW + 60, "jti": "jti-0001"}, "the assertion needs iat and exp"),
    ({"iat": NOW, "exp": NOW + 60, "jti": "jti-0001"}, "the assertion has no valid sub"),
    ({"sub": {"$ne": None}, "iat": NOW, "exp": NOW + 60, "jti": "jti-0001"}, "the assertion has no valid sub"),
    ({"sub": "", "iat": NOW, "exp": NOW + 60, "jti": "jti-0001"}, "the assertion has no valid sub"),
])
def test_an_assertion_missing_a_claim_is_refused(claims: dict[str, object], reason: str) -> None:
    assert refusal(sign_claims(KEY, claims)).startswith(reason)


def test_a_bad_signature_tells_nothing_about_the_claims() -> None:
    good = sign(KEY, "DR-1", NOW + 60, issued=NOW)
    assert refusal(good, key=b"x" * 32) == "the assertion is not valid"  # another key
    assert refusal(sign(b"x" * 32, "DR-1", 4_102_444_800, issued=NOW)) == "the assertion is not valid"
    payload, _, signature = good.partition(".")
    assert refusal(f"{payload}x.{signature}") == "the assertion is not valid"  # payload changed
    assert refusal(f"{payload}.{signature[:-1]}{'0' if signature[-1] != '0' else '1'}") == "the assertion is not valid"
    for garbage in ("", ".", "é.é", "a.\ud800", good + "0", good.replace(".", ".."), payload,
                    sign_claims(KEY, ["DR-1"]), sign_claims(KEY, "DR-1")):  # type: ignore[arg-type]
        assert refusal(garbage) == "the assertion is not valid"


@given(st.text(max_size=300))
def test_no_text_makes_the_check_crash(token: str) -> None:
    with pytest.raises(AssertionRefused):
        check_assertion(KEY, token, NOW)
