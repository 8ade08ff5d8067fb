"""No matricule, password, activation code, OTP or presence password ever reaches a log line in clear."""

import json
import logging
import re
import sys
from datetime import date
from typing import Any

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn, verhoeff
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


# --- matricules written with separators (issue 24): logs and dead-letter reasons --------------------------------

WRITTEN = "1982010112380"  # a valid matricule: born 1 January 1982, serial 123, Luhn 8, Verhoeff 0
SEPARATED = ("1982 0101 123 80", "198201.0112380", "R-19820101-12380-x", "1982-01-01 123 80",
             "1982\u00a00101\u00a012380", "19820101 - 12380")


@pytest.mark.parametrize("text", SEPARATED)
def test_a_matricule_written_with_separators_is_redacted_in_text(text: str) -> None:
    redacted = kit_logging.redact_text(f"reference 'Observation/{text}' does not resolve")
    assert REDACTED in redacted and not re.search("[0-9]", redacted)
    with capture_logs(processors=[redact]) as logs:
        structlog.get_logger().warning("no such reference", detail=f"id {text}")
    assert logs[0]["detail"] == f"id {kit_logging.redact_text(text)}" and REDACTED in logs[0]["detail"]


@pytest.mark.parametrize("text", [
    "collected 2026-11-20 08:05, hb 13.5 g/dL then 6.1", "2026-11-22T07:57:31.154+01:00", "offset 1234567890123",
    "message_id 0-1763777425342", "the file is 5347738 bytes; at most 5242880 bytes are accepted",
    "1982 0101 123 81",  # a check digit off: with separators, only a valid matricule is one (too many numbers are)
    "tel 621 123 456", "20261120 1430 5", "partition 3 offset 1982 0101 12"])
def test_ordinary_numbers_with_separators_are_kept(text: str) -> None:
    assert kit_logging.redact_text(text) == text


def test_the_fhir_reason_names_no_matricule() -> None:
    from services.kit.errors import reason
    from services.records.domain import fhir
    from services.records.domain.documents import Rejected
    from tests.support import fhir_bundle

    bundle = fhir_bundle("LAB-LNS", "R-1", "m-1")
    report = bundle["entry"][0]["resource"]
    for form in (WRITTEN, "198201.0112380"):
        report["result"] = [{"reference": f"Observation/{form}"}]
        with pytest.raises(Rejected) as info:
            fhir.to_lab_result(json.dumps(bundle).encode())
        assert form in str(info.value)  # the exception says it; the dead letter's reason must not
        text = reason(info.value)
        assert text == f"reference 'Observation/{REDACTED}' does not resolve to a Observation in the bundle"
        assert reason(info.value, limit=30) == text[:30]  # masked before it is cut: never half a matricule


async def test_a_dead_letter_reason_is_redacted_however_the_caller_built_it() -> None:
    from aiokafka import ConsumerRecord
    from prometheus_client import CollectorRegistry

    from services.kit.deadletter import DeadLetters

    sent: list[dict[str, bytes]] = []

    class Producer:
        async def send_and_wait(self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]) -> None:
            sent.append(dict(headers))

    owner = DeadLetters("records", "records", "unused:1", CollectorRegistry())
    owner.producer = Producer()  # type: ignore[assignment]
    record = ConsumerRecord(topic="lab.results.v1", partition=0, offset=1, timestamp=0, timestamp_type=0,
                            key=b"LAB1:R1", value=b"{}", checksum=None, serialized_key_size=0,
                            serialized_value_size=0, headers=())
    assert await owner.publish(record, f"no person {WRITTEN} (also 1982 0101 123 80)", ValueError("x"), "invalid")
    assert sent[0]["dlq-reason"] == f"no person {REDACTED} (also {REDACTED})".encode()


def _with_separators(draw: Any, digits: str) -> str:
    out = digits[0]
    for d in digits[1:]:
        out += draw(st.sampled_from(["", "", "", " ", ".", "-", "\u00a0", "\u202f", " - ", ". ", "  "])) + d
    return out


@st.composite
def written_matricules(draw: Any) -> tuple[str, str]:
    """(a valid matricule, as some person or program wrote it: separators anywhere between its digits)."""
    born = draw(st.dates(min_value=date(1850, 1, 1), max_value=date(2099, 12, 31)))
    base = f"{born:%Y%m%d}{draw(st.integers(0, 999)):03d}"
    matricule = base + luhn.calc_check_digit(base) + verhoeff.calc_check_digit(base)
    return matricule, _with_separators(draw, matricule)


AROUND = st.text(st.characters(blacklist_categories=("Nd", "Cs")), max_size=20)


@settings(max_examples=300, deadline=None)
@given(written=written_matricules(), before=AROUND, after=AROUND)
def test_any_matricule_with_separators_inserted_is_redacted(written: tuple[str, str], before: str,
                                                           after: str) -> None:
    matricule, text = written
    redacted = kit_logging.redact_text(before + text + after)
    assert not re.search("[0-9]", redacted), (matricule, text, redacted)
    assert REDACTED in redacted
