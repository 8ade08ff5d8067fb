"""activation's steps as pure functions (`services/activation/domain/flow.py`, issue 25): the account, the facts
the service would gather — whether a typed secret matched (`code_ok`, `password_ok`, `otp_ok`, LuxTrust's
`verified`), the hashes it made, a fresh one-time code — and `now` go in; the changed account and a `Step` come
out. No argon2, no HMAC key, no store, no event loop."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.activation.domain import flow, rules
from services.activation.domain.account import Account
from services.activation.domain.flow import NewOtp
from tests.support import make_matricule

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
M = make_matricule(date(1985, 4, 2), 21)
CHILD = make_matricule(date(2015, 6, 1), 21)
COMMON = frozenset({"password1234"})
PERSON = {"email": "marie.weber@example.lu", "mobile": "+352621123456"}


def otp(n: int = 1) -> NewOtp:
    return NewOtp(f"{n:06d}", f"keyed-hash-{n}")


def letter(matricule: str = M, **fields: object) -> Account:
    acc: Account = {"_id": matricule, "state": "", "active": False, "generation": 1, "code_hash": "argon2-of-code",
                    "code_expires_at": NOW + rules.CODE_VALIDITY, "code_used": False}
    acc.update(fields)  # type: ignore[typeddict-item]
    return acc


def active(**fields: object) -> Account:
    acc = letter(state="active", active=True, code_used=True, password_hash="argon2-of-password",
                 otp_channel="sms", otp_address="+352621999888")
    acc.update(fields)  # type: ignore[typeddict-item]
    return acc


def test_a_whole_activation_from_facts_alone() -> None:
    acc = letter()
    steps = [flow.start(acc, True, "2026-01", NOW)]
    assert flow.password_refusal(acc, "Moselle-Riesling-1987", COMMON) is None
    steps.append(flow.set_password(acc, "argon2-of-new-password"))
    steps.append(flow.choose_channel(acc, "sms", None, None, PERSON, otp(), NOW))
    steps.append(flow.verify_otp(acc, True, NOW + timedelta(seconds=30)))
    steps.append(flow.luxtrust(acc, False, False))
    steps.append(flow.confirm(acc, NOW + timedelta(minutes=1)))
    assert all(s.accepted for s in steps), [s.reason for s in steps]
    assert [s.next_step for s in steps] == ["set-password", "choose-channel", "verify-otp",
                                           "link-luxtrust or skip-luxtrust", "confirm", None]
    assert acc["state"] == "active" and acc["active"] and acc["code_used"] and not acc["luxtrust"]
    assert acc["password_hash"] == "argon2-of-new-password" and acc["activated_at"] == NOW + timedelta(minutes=1)
    assert steps[-1].activated and steps[-1].details == {"minor": "false"}
    assert acc["session_generation"] == 2  # start and confirm each end every session


def test_the_letters_code_one_answer_for_unknown_used_expired_or_wrong() -> None:
    assert flow.letter_code_hash(letter(), NOW) == "argon2-of-code"
    assert flow.letter_code_hash(None, NOW) is None
    assert flow.letter_code_hash(letter(code_used=True), NOW) is None
    assert flow.letter_code_hash(letter(), NOW + rules.CODE_VALIDITY) is None  # expired: checked against nothing
    for acc, code_ok in ((None, True), (letter(), False)):
        step = flow.start(acc, code_ok, "2026-01", NOW)
        assert (step.accepted, step.failed, step.reason) == (False, True, flow.UNKNOWN_LETTER)
    untouched = letter()
    flow.start(untouched, False, "2026-01", NOW)
    assert untouched == letter()
    child = letter(CHILD)
    assert flow.start(child, True, "2026-01", NOW).details == {"minor": "true"}
    assert child["state"] == "code-verified" and child["terms_version"] == "2026-01"


def test_a_password_is_refused_before_it_is_hashed() -> None:
    acc = letter(state="code-verified")
    short = flow.password_refusal(acc, "Short1", COMMON)
    assert short is not None and (short.accepted, short.next_step) == (False, "set-password")
    assert short.reason == "the password needs at least 8 characters"
    common = flow.password_refusal(acc, "password1234", COMMON)
    assert common is not None and common.reason == "this password is too common"
    assert flow.password_refusal(acc, None, COMMON) is not None
    assert acc == letter(state="code-verified")  # a refusal stores nothing


def test_the_channel_and_its_code_go_out_sealed() -> None:
    acc = letter(state="password-set")
    assert flow.choose_channel(acc, None, None, None, PERSON, otp(), NOW).reason == (
        "choose e-mail or SMS for the one-time code")
    nothing = flow.choose_channel(acc, "email", None, None, {}, otp(), NOW)
    assert (nothing.reason, nothing.next_step) == ("no e-mail address known; enter one", "choose-channel")
    sent = flow.choose_channel(acc, "sms", None, None, PERSON, otp(), NOW)  # the registry's mobile
    assert sent.accepted and sent.details == {"sent_to": "+352******456"}
    assert sent.notices == [{"channel": "sms", "template_id": "one-time-code", "destination": "+352621123456",
                             "parameters": {}, "sealed": {"code": "000001"}}]
    assert acc["otp"] == {"hash": "keyed-hash-1", "expires_at": NOW + rules.OTP_VALIDITY, "tries": 0, "sent_at": NOW,
                          "channel": "sms", "address": "+352621123456"}
    assert "000001" not in str(acc) and "000001" not in str(sent.details)  # the code only in the sealed part
    typed = flow.choose_channel(letter(state="password-set"), "email", "typed@example.lu", None, PERSON, otp(), NOW)
    assert typed.notices[0]["destination"] == "typed@example.lu"


def test_a_code_is_resent_a_minute_after_the_previous_one() -> None:
    acc = letter(state="otp-sent")
    assert flow.resend_otp(acc, "otp", "verify-otp", otp(), NOW).reason == "no one-time code was sent yet"
    flow.choose_channel(acc, "sms", None, None, PERSON, otp(1), NOW)
    early = flow.resend_otp(acc, "otp", "verify-otp", otp(2), NOW + timedelta(seconds=59))
    assert early.reason == "a new code can be sent one minute after the previous one" and not early.accepted
    later = NOW + rules.OTP_RESEND_AFTER
    again = flow.resend_otp(acc, "otp", "verify-otp", otp(2), later)
    assert again.accepted and again.notices[0]["sealed"] == {"code": "000002"}
    assert (acc["otp"]["hash"], acc["otp"]["sent_at"], acc["otp"]["address"]) == ("keyed-hash-2", later,
                                                                                   "+352621123456")


def test_wrong_one_time_codes_count_per_account_across_codes() -> None:
    acc = letter(state="otp-sent")
    flow.choose_channel(acc, "sms", None, None, PERSON, otp(1), NOW)
    for _ in range(3):
        wrong = flow.verify_otp(acc, False, NOW)
        assert (wrong.reason, wrong.failed, wrong.next_step) == ("wrong one-time code", True, "verify-otp")
    assert (acc["otp_failures"], acc["otp"]["tries"]) == (3, 3)
    flow.resend_otp(acc, "otp", "verify-otp", otp(2), NOW + timedelta(minutes=1))  # a new code: the count goes on
    for _ in range(2):
        assert flow.verify_otp(acc, False, NOW + timedelta(minutes=1)).failed
    assert acc["otp_failures"] == rules.MAX_OTP_TRIES and acc["otp"]["tries"] == rules.MAX_OTP_TRIES  # spent
    spent = flow.verify_otp(acc, True, NOW + timedelta(minutes=1))  # even the right code
    assert spent.reason == "too many wrong one-time codes; ask for a new one" and not spent.failed
    assert flow.otp_wait(acc, NOW + timedelta(minutes=1)) == 1  # the next code waits the doubling delay
    assert flow.otp_wait(acc, NOW + timedelta(minutes=1, seconds=1)) == 0


def test_a_right_code_secures_the_account_once_and_an_expired_one_never() -> None:
    acc = letter(state="otp-sent", otp_failures=2, otp_failed_at=NOW)
    flow.choose_channel(acc, "sms", None, None, PERSON, otp(), NOW)
    late = flow.verify_otp(acc, True, NOW + rules.OTP_VALIDITY)
    assert late.reason == "the one-time code has expired; ask for a new one" and acc["state"] == "otp-sent"
    right = flow.verify_otp(acc, True, NOW + timedelta(minutes=4))
    assert right.accepted and acc["state"] == "secured" and acc["otp"]["used"]
    assert (acc["otp_failures"], acc["otp_failed_at"]) == (0, None)
    assert flow.verify_otp(acc, True, NOW).reason == "no one-time code is waiting; ask for a new one"


def test_luxtrust_is_linked_only_when_verified_or_skipped() -> None:
    acc = letter(state="secured")
    refused = flow.luxtrust(acc, True, False)
    assert (refused.accepted, refused.next_step) == (False, "link-luxtrust or skip-luxtrust")
    assert acc["state"] == "secured"
    assert flow.luxtrust(acc, True, True).reason == "LuxTrust linked" and acc["luxtrust"]
    skipped = letter(state="secured")
    assert flow.luxtrust(skipped, False, False).reason == "LuxTrust skipped" and skipped["luxtrust"] is False
    child = letter(CHILD, state="luxtrust-done")
    assert flow.confirm(child, NOW).details == {"minor": "true"}


def test_login_one_answer_then_a_code_to_the_accounts_channel() -> None:
    assert flow.login_password_hash(None) is None
    assert flow.login_password_hash(letter(password_hash="argon2-of-password")) is None  # not active yet
    assert flow.login_password_hash(active()) == "argon2-of-password"
    for acc, password_ok in ((None, True), (active(), False)):
        step = flow.login(acc, password_ok, None, None, PERSON, otp(), NOW)
        assert (step.reason, step.failed) == ("wrong matricule or password", True)
    acc = active()
    step = flow.login(acc, True, None, None, PERSON, otp(), NOW)
    assert step.accepted and step.next_step == "login-verify-otp"
    assert step.notices[0]["destination"] == "+352621999888" and acc["login_otp"]["hash"] == "keyed-hash-1"
    assert acc["password_hash"] == "argon2-of-password"
    asked = active()
    assert flow.login(asked, True, None, "email", PERSON, otp(), NOW).notices[0]["destination"] == (
        "marie.weber@example.lu")  # another channel: the registry's address
    nowhere = flow.login(active(), True, None, "email", {}, otp(), NOW)
    assert nowhere.reason == "no e-mail address on file for this account" and not nowhere.failed
    rehashed = active()
    flow.login(rehashed, True, "argon2-new-parameters", None, PERSON, otp(), NOW)
    assert rehashed["password_hash"] == "argon2-new-parameters"


def test_the_login_code_and_luxtrust_log_in() -> None:
    acc = active()
    flow.login(acc, True, None, None, PERSON, otp(), NOW)
    wrong = flow.login_code(acc, False, NOW)
    assert (wrong.reason, wrong.failed, wrong.next_step) == ("wrong one-time code", True, "login-verify-otp")
    assert flow.login_code(acc, True, NOW).reason == "logged in"
    for acc_, verified in ((None, True), (letter(), True), (active(), False)):
        assert flow.luxtrust_login(acc_, verified).reason == "the LuxTrust assertion was not accepted"
    assert flow.luxtrust_login(active(), True).accepted


def test_a_password_change_checks_both_passwords_before_the_new_hash() -> None:
    acc = active(session_generation=4)
    wrong = flow.password_change_refusal(acc, False, "Echternach-Abbey-2032", COMMON)
    assert wrong is not None and (wrong.reason, wrong.failed) == ("the current password is wrong", True)
    weak = flow.password_change_refusal(acc, True, "password1234", COMMON)
    assert weak is not None and (weak.reason, weak.failed) == ("this password is too common", False)
    assert flow.password_change_refusal(acc, True, "Echternach-Abbey-2032", COMMON) is None
    changed = flow.change_password(acc, "argon2-of-new")
    assert changed.reason == "password changed"
    assert (acc["password_hash"], acc["session_generation"]) == ("argon2-of-new", 5)


def test_a_forgotten_passwords_letter_at_most_once_a_week() -> None:
    assert flow.forgot_letter_due(active(), PERSON, None, NOW)
    assert not flow.forgot_letter_due(None, PERSON, None, NOW)
    assert not flow.forgot_letter_due(letter(), PERSON, None, NOW)  # not active
    assert not flow.forgot_letter_due(active(), {}, None, NOW)  # the registry does not know the person
    assert not flow.forgot_letter_due(active(), PERSON, NOW - rules.FORGOT_EVERY + timedelta(seconds=1), NOW)
    assert flow.forgot_letter_due(active(), PERSON, NOW - rules.FORGOT_EVERY, NOW)
