"""The first vertical slice on the real broker and server: a lab result in -> stored once; bad input -> DLQ."""

from __future__ import annotations

import json
from typing import Any

from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from tests.support import Worker, encode, eventually, header, lab_result, read_topic


def results(mongo: AsyncMongoClient[dict[str, Any]], run_id: str) -> Any:
    return mongo[f"{run_id}_records"]["documents"]


async def test_published_result_is_stored(records: Worker, producer: AIOKafkaProducer,
                                          mongo: AsyncMongoClient[dict[str, Any]], run_id: str, unique: str) -> None:
    lab = f"LAB-{unique}"
    await producer.send_and_wait("lab.results.v1", encode(lab_result(lab)), key=f"{lab}:R1".encode())

    stored = await eventually(lambda: results(mongo, run_id).find_one({"laboratory_id": lab}))

    assert stored["report_id"] == "R1"
    assert stored["status"] == "active" and stored["versions"][-1]["status"] == "final"
    assert stored["document_type"] == "lab-result" and stored["author"] == lab
    assert stored["patient_matricule"] == "1893120105732" and stored["blocked"] is False
    assert stored["title"] == "Hémogramme complet"
    assert [o["loinc"] for o in stored["versions"][-1]["observations"]] == ["718-7", "6690-2", "600-7"]
    assert stored["versions"][-1]["observations"][1] == {
        "loinc": "6690-2", "display": "Leucocytes", "value": 11.8, "unit": "10*9/L", "reference_low": 4.0,
        "reference_high": 10.0, "interpretation": "H"}
    assert stored["document_date"].isoformat() == "2026-11-20T07:05:00+00:00"
    assert "current" not in stored and "tokens" not in stored  # the last version once; the words in the list


async def test_same_message_twice_is_stored_once(records: Worker, producer: AIOKafkaProducer,
                                                 mongo: AsyncMongoClient[dict[str, Any]], run_id: str,
                                                 unique: str) -> None:
    lab = f"LAB-{unique}"
    message = encode(lab_result(lab, message_id="dup-1"))
    await producer.send_and_wait("lab.results.v1", message, key=f"{lab}:R1".encode())
    await producer.send_and_wait("lab.results.v1", message, key=f"{lab}:R1".encode())
    # a later, different report on the same partition proves both copies were consumed
    later = lab_result(lab, report="R1", message_id="after", status="corrected",
                       reported_at="2026-11-20T15:00:00+01:00")
    await producer.send_and_wait("lab.results.v1", encode(later), key=f"{lab}:R1".encode())

    doc = await eventually(lambda: results(mongo, run_id).find_one({"laboratory_id": lab,
                                                                    "versions.message_id": "after"}))
    assert [v["message_id"] for v in doc["versions"]] == ["dup-1", "after"]  # dup-1 once
    assert await results(mongo, run_id).count_documents({"laboratory_id": lab}) == 1


async def test_bad_messages_go_to_the_dlq_with_distinct_reasons(
        records: Worker, producer: AIOKafkaProducer, mongo: AsyncMongoClient[dict[str, Any]], run_id: str,
        unique: str, infra: Any) -> None:
    lab = f"LAB-{unique}"
    garbage = b"\x00\xff not json {"
    wrong_check_digit = lab_result(lab, message_id="bad-matricule", patient_matricule="1893120105733")
    missing_field = lab_result(lab, message_id="no-status")
    del missing_field["status"]
    for report, value in (("G", garbage), ("M", encode(wrong_check_digit)), ("F", encode(missing_field))):
        await producer.send_and_wait("lab.results.v1", value, key=f"{lab}:{report}".encode())
    # the worker keeps consuming: a good result after the bad ones is stored
    await producer.send_and_wait("lab.results.v1", encode(lab_result(lab, message_id="good")),
                                 key=f"{lab}:R1".encode())

    dead = await read_topic(infra.bootstrap, "lab.results.v1.dlq", f"{lab}:".encode(), count=3,
                            group=f"{run_id}-records")
    by_key = {r.key.decode().split(":")[1]: r for r in dead if r.key}
    assert len(dead) == 3  # one dead letter per bad message

    assert sorted(by_key) == ["F", "G", "M"]
    assert by_key["G"].value == garbage  # original bytes
    assert header(by_key["G"], "dlq-reason").startswith("Invalid JSON")
    assert header(by_key["M"], "dlq-reason") == (
        "patient_matricule: Value error, matricule check digits do not match (Luhn, Verhoeff)")
    assert header(by_key["F"], "dlq-reason") == "status: Field required"
    assert json.loads(by_key["M"].value)["message_id"] == "bad-matricule"
    for record in by_key.values():
        assert header(record, "dlq-source-topic") == "lab.results.v1"
        assert int(header(record, "dlq-source-offset")) >= 0
        assert header(record, "dlq-exception-type") in ("ValidationError", "Rejected")
        assert header(record, "dlq-service") == "records"
        assert header(record, "dlq-consumer-group") == f"{run_id}-records"
    assert await eventually(lambda: results(mongo, run_id).find_one({"laboratory_id": lab,
                                                                     "versions.message_id": "good"}))
    assert await results(mongo, run_id).count_documents({"laboratory_id": lab}) == 1
    assert records.proc is not None and records.proc.poll() is None  # still running
    logs = records.logs()
    assert "1893120105732" not in logs and "1893120105733" not in logs  # matricules never logged in clear
    assert '"event": "lab results stored"' in logs
