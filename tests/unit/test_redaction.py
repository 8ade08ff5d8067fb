"""No matricule, password, activation code, OTP or presence password ever reaches a log line in clear."""

import json
import logging
import sys

import pytest
import structlog
from structlog.testing import capture_logs

from services.kit import logging as kit_logging
from services.kit.logging import REDACTED, Pseudonymizer, redact

MATRICULE = "1893120105732"
SECRETS = {"matricule": MATRICULE, "patient_matricule": MATRICULE, "password": "Tr0ub4dor&3",
           "new_password": "Correct1Horse", "activation_code": "K7QX-M2PR-9TZW", "otp": "482913",
           "one_time_code": "482913", "presence_password": "PX-77-QQ", "session_token": "tok_abcdef",
           "captcha_answer": "x7k2p", "code": "482913", "email": "marie@example.lu", "mobile": "+352621123456"}


def test_sensitive_keys_are_redacted() -> None:
    with capture_logs(processors=[redact]) as logs:
        structlog.get_logger().info("activation step", **SECRETS, step="verify-otp")
    entry = logs[0]
    assert entry["step"] == "verify-otp"
    for key in SECRETS:
        assert entry[key] == REDACTED, key


def test_matricules_in_free_text_and_nested_values_are_masked() -> None:
    with capture_logs(processors=[redact]) as logs:
        structlog.get_logger().warning(f"no person for {MATRICULE}", detail={"who": [f"m={MATRICULE}"]},
                                       payload={"password": "secret1234", "laboratory_id": "LAB1"},
                                       mistyped=f"{MATRICULE[:-1]}9")
    entry = logs[0]
    assert MATRICULE not in json.dumps(entry, default=str)
    assert entry["event"] == f"no person for {REDACTED}"
    assert entry["payload"] == {"password": REDACTED, "laboratory_id": "LAB1"}
    assert entry["mistyped"] == REDACTED  # a matricule with a wrong check digit is still personal data


def test_millisecond_timestamps_and_other_numbers_are_kept() -> None:
    with capture_logs(processors=[redact]) as logs:
        structlog.get_logger().info("received", message_id="0-1763777425342", offset=1234567890123)
    assert logs[0]["message_id"] == "0-1763777425342"
    assert logs[0]["offset"] == 1234567890123


def test_the_configured_pipeline_redacts_structlog_stdlib_and_tracebacks(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    kit_logging.configure("unit", "INFO", json=True)
    try:
        structlog.get_logger("t").info("login", password="hunter2hunter2", matricule=MATRICULE)
        logging.getLogger("some.library").info("handler saw %s", MATRICULE)
        try:
            raise ValueError(f"unknown patient {MATRICULE}")
        except ValueError:
            structlog.get_logger("t").exception("failed")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 3 and all(line["service"] == "unit" for line in lines)
    assert MATRICULE not in out and "hunter2hunter2" not in out
    assert "ValueError" in lines[2]["exception"]


def test_pseudonym_is_stable_keyed_and_not_the_matricule() -> None:
    first, other_key = Pseudonymizer(b"k" * 32), Pseudonymizer(b"j" * 32)
    assert first(MATRICULE) == first(MATRICULE)
    assert first(MATRICULE) != other_key(MATRICULE)
    assert MATRICULE not in first(MATRICULE) and len(first(MATRICULE)) == 16


def test_an_offset_commit_lost_to_a_rebalance_is_a_warning_not_critical() -> None:
    import logging

    from aiokafka.errors import CommitFailedError

    from services.kit.logging import _rebalance_is_not_critical

    try:
        raise CommitFailedError("group rebalanced")
    except CommitFailedError:
        record = logging.LogRecord("dsp.records.faststream", logging.CRITICAL, __file__, 1, "boom", (),
                                   sys.exc_info())
    assert _rebalance_is_not_critical(record)
    assert (record.levelname, record.exc_info) == ("WARNING", None)
    assert "redelivered" in record.getMessage()
