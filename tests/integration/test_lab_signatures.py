"""Each laboratory is its own identity, on the real stack (issue 24: with the shared `laboratory` login a result was
published and then corrected as LAB-LNS on a patient's DSP, 13.5 -> 6.1). records checks each result's signature
against the keys the directory announced on `directory.laboratories.v1`, before anything else."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from services.kit import labsign
from services.records.domain import documents as domain
from tests.support import (
    SigningProducer,
    Worker,
    as_caller,
    encode,
    eventually,
    fhir_bundle,
    header,
    kafka_options,
    lab_result,
    laboratory_key,
    read_topic,
)

PATIENT = "1893120105732"  # registered by the session's `records` fixture
TOPIC = "lab.results.v1"


def docs(mongo: AsyncMongoClient[dict[str, Any]], run_id: str) -> Any:
    return mongo[f"{run_id}_records"]["documents"]


async def send_as(producer: SigningProducer, signer: Any, body: dict[str, Any], topic: str = TOPIC) -> Any:
    """`body` on `topic` under its own key, signed by `signer` (whoever's key it is); where it went."""
    key, value = f"{body['laboratory_id']}:{body['report_id']}".encode(), encode(body)
    return await producer.send_and_wait(topic, value, key=key, headers=signer.headers(topic, key, value))


async def handled(infra: Any, run_id: str, sent: Any) -> None:
    """Until records' consumer group has committed past the record `sent` (its effect is done)."""
    admin = AIOKafkaAdminClient(**kafka_options(infra.bootstrap))
    await admin.start()
    try:
        async def past() -> bool:
            offsets = await admin.list_consumer_group_offsets(f"{run_id}-records")
            found = offsets.get(TopicPartition(sent.topic, sent.partition))
            return found is not None and found.offset > sent.offset
        await eventually(past)
    finally:
        await admin.close()


async def reasons(bootstrap: str, prefix: str, count: int, group: str) -> dict[str, str]:
    dead = await read_topic(bootstrap, f"{TOPIC}.dlq", prefix.encode(), count=count, group=group)
    return {r.key.decode(): header(r, "dlq-reason") for r in dead}


async def test_laboratory_a_s_key_publishing_as_laboratory_b_is_dead_lettered_and_nothing_is_stored(
        records: Worker, producer: SigningProducer, mongo: Any, run_id: str, unique: str, infra: Any) -> None:
    a, b = laboratory_key(f"LAB-A{unique}"), laboratory_key(f"LAB-B{unique}")
    for lab in (a, b):
        await producer.announce(lab)
    await send_as(producer, a, lab_result(b.laboratory_id, report="R1", message_id="m-1"))
    unsigned = lab_result(b.laboratory_id, report="R2", message_id="m-2")
    await producer.producer.send_and_wait(TOPIC, encode(unsigned), key=f"{b.laboratory_id}:R2".encode())  # raw
    got = await reasons(infra.bootstrap, f"{b.laboratory_id}:", 2, f"{run_id}-records")
    assert got == {f"{b.laboratory_id}:R1": f"signed by {a.laboratory_id}, claims {b.laboratory_id}",
                   f"{b.laboratory_id}:R2": "the result carries no laboratory signature (header dsp-lab-signature)"}
    assert await docs(mongo, run_id).count_documents({"laboratory_id": b.laboratory_id}) == 0


async def test_another_laboratory_s_correction_never_changes_the_original(
        records: Worker, producer: SigningProducer, mongo: Any, run_id: str, unique: str, infra: Any) -> None:
    """The issue's attack, both ways: B's key correcting A's report as A (refused), and as B with A's report id (B's
    own document): A's document keeps its one version, 13.5."""
    a, b = laboratory_key(f"LAB-A{unique}"), laboratory_key(f"LAB-B{unique}")
    await producer.announce(b)
    original = lab_result(a.laboratory_id, report="R1", message_id="final", title="Hémogramme",
                          observations=[{"loinc": "718-7", "display": "Hémoglobine", "value": 13.5, "unit": "g/dL"}])
    await producer.send_and_wait(TOPIC, encode(original), key=f"{a.laboratory_id}:R1".encode())  # signed as A
    a_doc = await eventually(lambda: docs(mongo, run_id).find_one({"_id": domain.document_id(a.laboratory_id, "R1")}))
    correction = {**original, "message_id": "corrected", "status": "corrected",
                  "reported_at": "2026-11-21T09:00:00+01:00",
                  "observations": [{"loinc": "718-7", "display": "Hémoglobine", "value": 6.1, "unit": "g/dL"}]}
    await send_as(producer, b, correction)  # B's key, as A
    await send_as(producer, b, {**correction, "laboratory_id": b.laboratory_id})  # B's key, as B, A's report id

    got = await reasons(infra.bootstrap, f"{a.laboratory_id}:", 1, f"{run_id}-records")
    assert got == {f"{a.laboratory_id}:R1": f"signed by {b.laboratory_id}, claims {a.laboratory_id}"}
    b_doc = await eventually(lambda: docs(mongo, run_id).find_one({"_id": domain.document_id(b.laboratory_id, "R1")}))
    assert b_doc["versions"][0]["provenance"]["laboratory_id"] == b.laboratory_id  # a document of B's, apart
    after = await docs(mongo, run_id).find_one({"_id": a_doc["_id"]})
    assert after == a_doc and after["version_count"] == 1
    assert [o["value"] for o in after["versions"][0]["observations"]] == [13.5]


async def test_a_result_whose_laboratory_is_announced_after_it_is_stored_once_with_its_provenance(
        records: Worker, producer: SigningProducer, mongo: Any, run_id: str, unique: str, infra: Any) -> None:
    late = laboratory_key(f"LAB-L{unique}")
    body = lab_result(late.laboratory_id, report="R1", message_id="m-1", title="Glycémie")
    value = encode(body)
    await send_as(producer, late, body)  # its key announced by nobody yet
    await handled(infra, run_id, await send_as(producer, late, body))  # the laboratory tries again meanwhile
    waiting = mongo[f"{run_id}_records"]["awaiting_key"]
    assert await waiting.count_documents({"kid": late.kid}) == 1  # it waits, once
    assert await docs(mongo, run_id).find_one({"laboratory_id": late.laboratory_id}) is None

    await producer.announce(late, name="Laboratoire de Longwy")
    doc = await eventually(lambda: docs(mongo, run_id).find_one({"laboratory_id": late.laboratory_id}))
    await eventually(lambda: _none_waiting(waiting, late.kid))
    await handled(infra, run_id, await send_as(producer, late, body))  # and once more, now that it is known
    doc = await docs(mongo, run_id).find_one({"_id": doc["_id"]})
    assert doc["version_count"] == 1 and [v["message_id"] for v in doc["versions"]] == ["m-1"]

    signature = late.sign(TOPIC, f"{late.laboratory_id}:R1".encode(), value)
    assert doc["versions"][0]["provenance"] == {"laboratory_id": late.laboratory_id, "kid": late.kid,
                                                "jws": signature, "sha256": hashlib.sha256(value).hexdigest()}
    assert labsign.verify(signature, labsign.public_key(late.public), TOPIC, doc["laboratory_id"].encode() + b":R1",
                          value)  # it can be checked again later, with the bytes that digest names

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{records.port}", timeout=10,
                                 headers=as_caller("gateway", "records")) as api:
        listed = (await api.post("/v1/documents", json={"patient": PATIENT, "q": "glycemie"})).json()["items"]
        mine = [d for d in listed if d["id"] == doc["_id"]]
        assert [(d["author"], d["laboratory_name"]) for d in mine] == [(late.laboratory_id, "Laboratoire de Longwy")]
        detail = (await api.post("/v1/documents/detail", json={"patient": PATIENT, "document_id": doc["_id"]})).json()
        assert (detail["laboratory_id"], detail["laboratory_name"]) == (late.laboratory_id, "Laboratoire de Longwy")


async def _none_waiting(waiting: Any, kid: str) -> bool:
    return await waiting.find_one({"kid": kid}) is None


async def test_a_revoked_key_is_refused_and_a_fhir_result_keeps_its_laboratory_s_provenance(
        records: Worker, producer: SigningProducer, mongo: Any, run_id: str, unique: str, infra: Any) -> None:
    lab = laboratory_key(f"LAB-F{unique}")
    bundle = json.dumps(fhir_bundle(lab.laboratory_id, "F-1", f"fhir-{unique}")).encode()
    key = f"{lab.laboratory_id}:F-1".encode()
    await producer.send_and_wait("lab.results.fhir.v1", bundle, key=key)  # signed and announced as the lab
    doc = await eventually(lambda: docs(mongo, run_id).find_one({"laboratory_id": lab.laboratory_id}))
    assert doc["versions"][0]["provenance"] == {  # the laboratory's signature over its bundle, not records' seal
        "laboratory_id": lab.laboratory_id, "kid": lab.kid, "jws": lab.sign("lab.results.fhir.v1", key, bundle),
        "sha256": hashlib.sha256(bundle).hexdigest()}

    await producer.announce(lab, status="revoked")
    await eventually(lambda: _revoked(mongo, run_id, lab.laboratory_id))
    await send_as(producer, lab, lab_result(lab.laboratory_id, report="R9", message_id="after-revocation"))
    got = await reasons(infra.bootstrap, f"{lab.laboratory_id}:R9", 1, f"{run_id}-records")
    assert got == {f"{lab.laboratory_id}:R9": f"signed with key {lab.kid} of {lab.laboratory_id}, which is revoked"}


async def _revoked(mongo: Any, run_id: str, lab: str) -> bool:
    found = await mongo[f"{run_id}_records"]["laboratories"].find_one({"_id": lab})
    return bool(found) and found["keys"][0]["status"] == "revoked"


async def test_the_signing_producer_signs_and_announces_once(producer: AIOKafkaProducer, unique: str) -> None:
    """The tests' own producer (conftest) signs a result as its laboratory, and leaves a signed one alone."""
    assert isinstance(producer, SigningProducer)
    lab = laboratory_key(f"LAB-S{unique}")
    signed = await producer._signed(TOPIC, f"{lab.laboratory_id}:R1".encode(), b"{}", None)
    assert signed == lab.headers(TOPIC, f"{lab.laboratory_id}:R1".encode(), b"{}")
    given = [(labsign.HEADER, b"as given")]
    assert await producer._signed(TOPIC, b"X:R1", b"{}", given) == given
    assert await producer._signed("registry.persons.v1", b"x", b"{}", None) is None
