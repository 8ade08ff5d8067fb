"""Activation's pure rules: codes, password policy, the order of the steps."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.activation.app import common_passwords
from services.activation.domain import rules
from tests.support import make_matricule

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
    text = unicodedata.normalize("NFKC", password)
    if problem is None:  # what an accepted password always is, whatever the characters
        assert text == text.strip() and len(text.replace(" ", "")) >= 8
        assert all(c.isprintable() and not unicodedata.category(c).startswith("C") for c in text)
        assert any(c.isalpha() for c in text) and any(c.isdecimal() for c in text)
        assert M[:11] not in re.sub(r"[./\- ]", "", text) and "18931201" not in text and text.lower() != "password1"
    if password.isascii() and password.isprintable():  # the plain rules, on plain text
        ok = (password == password.strip() and len(password.replace(" ", "")) >= 8
              and any(c.isalpha() for c in password) and any(c.isdigit() for c in password)
              and M[:11] not in re.sub(r"[./\- ]", "", password) and not BORN_1893.search(password)
              and password.lower() != "password1")
        assert (problem is None) == ok, problem


BORN_1893 = re.compile(r"18931201|01121893|12011893|011293|931201|120193|"
                       r"0?1[./\- ]{1,3}12[./\- ]{1,3}(?:1893|93)|(?:1893|93)[./\- ]{1,3}12[./\- ]{1,3}0?1|"
                       r"12[./\- ]{1,3}0?1[./\- ]{1,3}(?:1893|93)")


def test_password_reasons_and_the_bundled_common_list() -> None:
    common = common_passwords()
    assert len(common) > 10_000 and "password1" in common
    assert rules.password_problem("short1", M, common) == "the password needs at least 8 characters"
    assert rules.password_problem("12345678", M, common) == "the password needs at least one letter"
    assert rules.password_problem("abcdefgh", M, common) == "the password needs at least one digit"
    assert rules.password_problem(f"a{M}", M, common) == "the password must not contain the matricule"
    assert rules.password_problem("Password1", M, common) == "this password is too common"
    assert rules.password_problem("Moselle-Riesling-1987", M, common) is None


INVISIBLE = "the password must not contain invisible or control characters"
SPACE = "the password must not start or end with a space"
SHORT = "the password needs at least 8 characters"
BIRTH = "the password must not contain the birth date"
MATRICULE = "the password must not contain the matricule"
FEB14 = make_matricule(date(1990, 2, 14), 123)  # born 14 February 1990


@pytest.mark.parametrize(("password", "reason"), [
    ("a1" + "\u200b" * 6, INVISIBLE),  # zero-width spaces: 8 code points, 2 visible characters
    ("a1\u200c\u200d\u2060\ufeff\u00adxyz", INVISIBLE),  # joiners, word joiner, BOM, soft hyphen
    ("a1" + "\u3164" * 6, INVISIBLE),  # Hangul fillers are "letters" that render as nothing
    ("a1" + "\uffa0" * 6, INVISIBLE),
    ("abc\u200e12345", INVISIBLE),  # a direction mark
    ("abc\t12345", INVISIBLE), ("abc\n12345", INVISIBLE), ("abc\x0012345", INVISIBLE),
    ("abc\u202812345", INVISIBLE), ("abc\u202912345", INVISIBLE),  # line and paragraph separators
    ("abc\ud80012345", INVISIBLE),  # a lone surrogate (JSON can carry one)
    ("a1      ", SPACE), ("      a1", SPACE), (" Vianden-Castle-42", SPACE), ("Vianden-Castle-42 ", SPACE),
    ("Vianden-Castle-42\u3000", SPACE),  # an ideographic space is a space after NFKC
    ("a1     b", SHORT),  # spaces do not count towards the length
    ("ａ１", SHORT),
    ("ｐａｓｓｗｏｒｄ１", "this password is too common"),  # full-width: the same as typed on a keyboard
    ("19900214ab", BIRTH), ("ab19900214", BIRTH), ("14021990ab", BIRTH), ("Ab140290", BIRTH), ("Ab900214", BIRTH),
    ("x02141990", BIRTH),  # the American order too
    ("Gruen-14.02.1990", BIRTH), ("14-02-1990ab", BIRTH), ("14/02/1990ab", BIRTH), ("14 02 1990ab", BIRTH),
    ("1990-02-14ab", BIRTH), ("1990/2/14ab", BIRTH), ("14.2.90abc", BIRTH), ("ab 14 / 2 / 90", BIRTH),
    ("１９９００２１４ab", BIRTH),  # full-width digits
    ("\u0661\u0669\u0669\u0660\u0660\u0662\u0661\u0664ab", BIRTH),  # Arabic-Indic digits
    ("AB19900214", BIRTH),
    (f"x{FEB14}", MATRICULE), (f"x{FEB14[:11]}y", MATRICULE), ("x1990-0214-123y", MATRICULE),
    (f"x{FEB14[:4]} {FEB14[4:8]} {FEB14[8:]}", MATRICULE),
    ("".join(chr(0xFF10 + int(d)) for d in FEB14) + "x", MATRICULE),  # the matricule in full-width digits
])
def test_tricks_and_the_birth_date_are_refused_with_a_reason(password: str, reason: str) -> None:
    assert rules.password_problem(password, FEB14, frozenset({"password1"})) == reason


@pytest.mark.parametrize("password", [
    "Moselle-Riesling-1987", "Vianden Castle 42", "Grëvenmacher-1990-Wäin", "Éischt Kaffi 7 moies",
    "ｖｉａｎｄｅｎ-castle-42",  # full-width letters: accepted as their plain form
    "14-03-1990-Schuéberfouer",  # another day of the same year
    "Kachkéis-0214-X",  # the day and month alone are not the birth date
])
def test_good_passwords_are_accepted(password: str) -> None:
    assert rules.password_problem(password, FEB14, common_passwords()) is None


def test_normalize_password_is_nfkc_so_hash_and_check_see_the_same_text() -> None:
    assert rules.normalize_password("ｖｉａｎｄｅｎ１２") == "vianden12"
    assert rules.normalize_password("Cafe\u0301") == rules.normalize_password("Café") == "Café"  # composed
    assert rules.normalize_password("\u00a0x\u3000") == " x "  # no-break and ideographic spaces: spaces
    assert rules.normalize_password("ﬁ") == "fi"


@given(st.text(alphabet=st.characters(codec="ascii", exclude_categories=("Cc",)), min_size=1, max_size=30))
def test_a_full_width_password_is_judged_as_its_plain_form(password: str) -> None:
    wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in password)
    assert rules.password_problem(wide, FEB14, frozenset()) == rules.password_problem(password, FEB14, frozenset())


@given(st.sampled_from(["Moselle-Riesling-1987", "Vianden Castle 42", "Éischt Kaffi 7 moies"]),
       st.integers(min_value=0, max_value=25), st.sampled_from([*sorted(rules.INVISIBLE), "\x7f", "\u2028"]))
def test_an_invisible_character_anywhere_is_refused(good: str, at: int, hidden: str) -> None:
    at = min(at, len(good))
    assert rules.password_problem(good[:at] + hidden + good[at:], FEB14, frozenset()) == INVISIBLE


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31)), st.integers(0, 999),
       st.sampled_from(["%Y%m%d", "%d%m%Y", "%d%m%y", "%y%m%d", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%Y", "%d %m %Y",
                        "%Y-%m-%d", "%d.%m.%y", "%Y/%m/%d"]),
       st.sampled_from(["Moselle-Riesling-{}", "{}-Kachkeis", "Vi{}anden"]))
def test_the_birth_date_in_any_form_is_refused_for_anyone(born: date, serial: int, form: str, wrap: str) -> None:
    matricule = make_matricule(born, serial)
    password = wrap.format(born.strftime(form))
    assert rules.password_problem(password, matricule, frozenset()) in (BIRTH, MATRICULE)
    assert rules.password_problem(password.upper(), matricule, frozenset()) in (BIRTH, MATRICULE)


def test_steps_run_in_order_with_a_reason_otherwise() -> None:
    assert rules.step_refusal("", "set-password") == "start the activation with the letter's code first"
    assert rules.step_refusal("code-verified", "confirm") == "step out of order: set-password comes next"
    assert rules.step_refusal("secured", "skip-luxtrust") is None
    assert rules.step_refusal("active", "verify-otp") == "the account is already active"
    assert rules.mask_address("marie.weber@example.lu") == "m***@example.lu"
    assert rules.mask_address("+352621123456") == "+352******456"
    assert len({rules.new_otp() for _ in range(50)}) > 40 and all(len(rules.new_otp()) == 6 for _ in range(20))


# ---- guarding guessable secrets: nobody locks anybody out (issue 24) -------------------------------------------

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
LOGIN, CODE_GUARD, CURRENT = rules.GUARDS["login"], rules.GUARDS["code"], rules.GUARDS["current-password"]


def test_the_challenge_counts_the_matricule_and_the_delay_only_this_client() -> None:
    assert rules.gate(LOGIN, 2, 2, T0, T0, False) == rules.Gate(0, False)  # 2 failures: neither yet
    assert rules.gate(LOGIN, 3, 0, None, T0, False) == rules.Gate(0, True)  # others failed: a challenge, no wait
    assert rules.gate(LOGIN, 500, 0, None, T0, False) == rules.Gate(0, True)  # however many strangers failed
    assert rules.gate(LOGIN, 3, 3, T0, T0, False) == rules.Gate(1, True)  # this client failed 3 times: 1 s
    assert rules.gate(LOGIN, 9, 6, T0, T0 + timedelta(seconds=3), False) == rules.Gate(5, True)  # 8 s after the 6th
    assert rules.gate(LOGIN, 99, 60, T0, T0, False) == rules.Gate(900, True)  # capped at 15 minutes
    assert rules.gate(LOGIN, 99, 60, T0, T0, True) == rules.Gate(0, True)  # a trusted device never waits
    assert rules.gate(CODE_GUARD, 0, 0, None, T0, False) == rules.Gate(0, True)  # the letter's code: always one
    # a clock set back: two failures "in the future" are still below the delay's threshold, never a wait
    assert rules.gate(CODE_GUARD, 2, 2, T0 + timedelta(days=91), T0, False) == rules.Gate(0, True)


def test_the_current_password_needs_no_challenge_and_waits_on_its_own_count() -> None:
    assert CURRENT.challenge == "never" and not CURRENT.wait_per_client and not CURRENT.tell_owner
    assert rules.gate(CURRENT, 2, 2, T0, T0, False) == rules.Gate(0, False)
    assert rules.gate(CURRENT, 3, 3, T0, T0, False) == rules.Gate(1, False)  # a delay, never a challenge
    assert rules.gate(CURRENT, 40, 40, T0, T0, False) == rules.Gate(900, False)
    assert LOGIN.wait_per_client and CODE_GUARD.wait_per_client and LOGIN.tell_owner and CODE_GUARD.tell_owner


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 3600), st.booleans())
def test_a_client_without_failures_of_its_own_never_waits(others: int, theirs: int, ago_s: int,
                                                          trusted: bool) -> None:
    """Whatever strangers did (their failures are theirs; the matricule's count only asks for a challenge), an
    address with no failure of its own goes ahead at once — and one that failed waits at most 15 minutes."""
    now = T0 + timedelta(seconds=ago_s)
    assert rules.gate(LOGIN, others, 0, None, now, trusted).wait_s == 0
    assert rules.gate(LOGIN, others, 0, T0, now, trusted).wait_s == 0
    assert 0 <= rules.gate(LOGIN, others, theirs, T0, now, trusted).wait_s <= 900
