"""records on the real stack: versions, withdrawal, order, parking, events, attachments, patient commands."""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from schemas.lab_result import LabResultV1
from schemas.records_api import DocumentQuery, DocumentsQuery, FileQuery, TimelineQuery
from services.records.domain import documents as domain
from services.records.domain import listing
from services.records.domain.laboratories import Laboratories
from services.records.service.reads import Reads as RecordsReads
from services.records.store.mongo import RecordsStore
from tests.support import Worker, encode, eventually, header, lab_result, make_matricule, person, read_topic

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)


@pytest.fixture
def patient() -> str:
    return make_matricule(date(1970 + random.randrange(40), 1 + random.randrange(12), 1 + random.randrange(28)),
                          random.randrange(1000))


@pytest.fixture
def docs(mongo: AsyncMongoClient[dict[str, Any]], run_id: str) -> Any:
    return mongo[f"{run_id}_records"]["documents"]


class Reads:
    """records' reads (the use case behind the read API the gateway calls over HTTP: `services.records.service.reads`),
    called in-process on the test's database, their answers as the routes send them: every page of a list, one
    document, its file."""

    def __init__(self, store: RecordsStore) -> None:
        self.reads = RecordsReads(store, Laboratories())  # no names here (test_lab_signatures asks the worker's API)

    async def _pages(self, use_case: Any, query: Any, **body: Any) -> list[dict[str, Any]]:
        found, cursor = [], None
        while True:
            page = await use_case(query.model_validate_json(json.dumps({**body, **({"cursor": cursor} if cursor
                                                                                  else {})})))
            found += page.model_dump(mode="json")["items"]
            cursor = page.next_cursor
            if cursor is None:
                return found

    async def all(self, patient: str, viewer: str = "patient", include_withdrawn: bool = False) -> list[dict[str, Any]]:
        return await self._pages(self.reads.documents, DocumentsQuery, patient=patient, viewer=viewer,
                                 include_withdrawn=include_withdrawn)

    async def latest(self, patient: str) -> list[dict[str, Any]]:
        return await self._pages(self.reads.documents, DocumentsQuery, patient=patient, sort="reported_at")

    async def search(self, patient: str, q: str) -> list[dict[str, Any]]:
        return await self._pages(self.reads.documents, DocumentsQuery, patient=patient, q=q)

    async def timeline(self, patient: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        return await self._pages(self.reads.timeline, TimelineQuery, patient=patient, start=start.isoformat(),
                                 end=end.isoformat())

    async def get(self, patient: str, doc_id: str, viewer: str = "patient") -> dict[str, Any] | None:
        found = await self.reads.detail(DocumentQuery(patient=patient, document_id=doc_id, viewer=viewer))
        return found.model_dump(mode="json") if found is not None else None

    async def file(self, patient: str, doc_id: str) -> tuple[str, bytes] | None:
        found = await self.reads.file(FileQuery(patient=patient, document_id=doc_id))
        return (found.content_type, base64.b64decode(found.data_base64)) if found is not None else None


@pytest.fixture
def reads(mongo: AsyncMongoClient[dict[str, Any]], run_id: str) -> Reads:
    return Reads(RecordsStore(mongo[f"{run_id}_records"]))


async def register(producer: AIOKafkaProducer, mongo: Any, run_id: str, matricule: str) -> None:
    await producer.send_and_wait("registry.persons.v1", encode(person(matricule)), key=matricule.encode())
    await eventually(lambda: mongo[f"{run_id}_records"]["persons"].find_one({"_id": matricule}))


async def send(producer: AIOKafkaProducer, body: dict[str, Any]) -> None:
    key = f"{body['laboratory_id']}:{body['report_id']}".encode()
    await producer.send_and_wait("lab.results.v1", encode(body), key=key)


async def test_correction_supersedes_keeps_history_and_emits_deterministic_events(
        records: Worker, producer: AIOKafkaProducer, mongo: Any, run_id: str, unique: str, patient: str,
        docs: Any, reads: Reads, infra: Any) -> None:
    await register(producer, mongo, run_id, patient)
    lab = f"LAB-{unique}"
    await send(producer, lab_result(lab, message_id="v1", patient_matricule=patient))
    corrected = lab_result(lab, message_id="v2", status="corrected", patient_matricule=patient,
                           reported_at="2026-11-20T16:00:00+01:00", title="Hémogramme (corrigé)")
    await send(producer, corrected)

    doc = await eventually(lambda: docs.find_one({"laboratory_id": lab, "versions.message_id": "v2"}))
    assert [v["message_id"] for v in doc["versions"]] == ["v1", "v2"] and doc["title"] == "Hémogramme (corrigé)"
    await eventually(lambda: _more(infra, patient, 2))
    events = await read_topic(infra.bootstrap, "records.document-added.v1", patient.encode(), count=1)
    changes = {json.loads(e.value)["change"]: json.loads(e.value) for e in events}
    assert set(changes) == {"added", "corrected"}
    assert changes["corrected"]["event_id"] == domain.event_id(doc["_id"], "v2")
    assert changes["added"]["event_id"] == domain.event_id(doc["_id"], "v1")
    assert changes["corrected"]["version"] == 2 and changes["corrected"]["author"] == lab
    assert [d["title"] for d in await reads.latest(patient)] == ["Hémogramme (corrigé)"]


async def _more(infra: Any, patient: str, count: int) -> bool:
    events = await read_topic(infra.bootstrap, "records.document-added.v1", patient.encode(), count=1, within_s=2)
    return len({json.loads(e.value)["event_id"] for e in events}) >= count


async def test_cancelled_withdraws_and_a_correction_before_its_original_wins(
        records: Worker, producer: AIOKafkaProducer, mongo: Any, run_id: str, unique: str, patient: str,
        docs: Any, reads: Reads) -> None:
    await register(producer, mongo, run_id, patient)
    lab = f"LAB-{unique}"
    await send(producer, lab_result(lab, report="EARLY", message_id="c2", status="corrected",
                                    patient_matricule=patient, reported_at="2026-11-20T16:00:00+01:00",
                                    title="Corrigé"))
    await send(producer, lab_result(lab, report="EARLY", message_id="c1", patient_matricule=patient, title="Original"))
    await send(producer, lab_result(lab, report="GONE", message_id="g1", patient_matricule=patient))
    await send(producer, lab_result(lab, report="GONE", message_id="g2", status="cancelled", observations=[],
                                    patient_matricule=patient, reported_at="2026-11-20T17:00:00+01:00"))

    gone = await eventually(lambda: docs.find_one({"report_id": "GONE", "laboratory_id": lab, "status": "withdrawn"}))
    early = await eventually(lambda: docs.find_one({"report_id": "EARLY", "laboratory_id": lab, "version_count": 2}))
    assert early["title"] == "Corrigé" and early["versions"][-1]["message_id"] == "c2"
    assert [v["message_id"] for v in early["versions"]] == ["c1", "c2"]
    assert gone["versions"][-1]["status"] == "cancelled"
    assert [d["id"] for d in await reads.all(patient)] == [early["_id"]]
    assert {d["id"] for d in await reads.all(patient, include_withdrawn=True)} == {early["_id"], gone["_id"]}


async def test_lists_follow_a_document_to_the_patient_its_correction_names_and_survive_a_lost_index(
        records: Worker, producer: AIOKafkaProducer, mongo: Any, run_id: str, unique: str, patient: str,
        docs: Any, reads: Reads) -> None:
    other = make_matricule(date(1965, 5, 5), random.randrange(1000))
    for matricule in (patient, other):
        await register(producer, mongo, run_id, matricule)
    lab = f"LAB-{unique}"
    await send(producer, lab_result(lab, report="R", message_id="m1", patient_matricule=patient, title="Glycémie"))
    doc = await eventually(lambda: docs.find_one({"laboratory_id": lab}))
    await eventually(lambda: _count(reads, patient, 1))
    # the laboratory named the wrong patient: its correction names the right one
    await send(producer, lab_result(lab, report="R", message_id="m2", status="corrected", patient_matricule=other,
                                    reported_at="2026-11-20T16:00:00+01:00", title="Glycémie"))
    await eventually(lambda: _count(reads, other, 1))
    assert await reads.all(patient) == [] and await reads.search(patient, "glycemie") == []
    assert [d["id"] for d in await reads.search(other, "glycémie")] == [doc["_id"]]

    index = mongo[f"{run_id}_records"]["patient_documents"]
    await index.delete_many({"_id": listing.prefix_range(other)})  # as if the worker died before writing it
    await send(producer, lab_result(lab, report="R", message_id="m2", status="corrected", patient_matricule=other,
                                    reported_at="2026-11-20T16:00:00+01:00", title="Glycémie"))  # redelivered
    await eventually(lambda: _count(reads, other, 1))

    await index.delete_many({})  # documents stored before the index existed: rebuilt once, at start
    await docs.update_one({"_id": doc["_id"]}, {"$set": {"blocked": True}})  # blocked back then
    await RecordsStore(mongo[f"{run_id}_records"]).ensure_indexes()
    assert [d["id"] for d in await reads.all(other)] == [doc["_id"]] and await reads.all(patient) == []
    assert (await reads.all(other))[0]["blocked"] is True and await reads.all(other, viewer="professional") == []
    assert [d["id"] for d in await reads.search(other, "glycemie")] == [doc["_id"]]  # words made from the document


async def test_a_document_stored_whole_before_is_read_and_corrected_like_a_new_one(
        records: Worker, producer: AIOKafkaProducer, mongo: Any, run_id: str, unique: str, patient: str,
        docs: Any, reads: Reads) -> None:
    """Documents used to be stored with `current` (their last version, twice) and their search words; a
    correction of one leaves it in today's shape, and reads see the correction."""
    await register(producer, mongo, run_id, patient)
    lab = f"LAB-{unique}"
    first = LabResultV1.model_validate(lab_result(lab, report="OLD", message_id="o1", patient_matricule=patient))
    at = datetime(2026, 11, 20, 8, tzinfo=UTC)
    whole, _ = domain.apply(None, lab, "OLD", domain.to_version(first, at, at))
    await docs.insert_one({**whole, "blocked": False})
    assert "current" in whole and "tokens" in whole
    assert (await reads.get(patient, whole["_id"]) or {})["observations"][0]["loinc"] == "718-7"

    await send(producer, lab_result(lab, report="OLD", message_id="o2", status="corrected", patient_matricule=patient,
                                    reported_at="2026-11-20T16:00:00+01:00", title="Hémogramme corrigé",
                                    observations=[{"loinc": "1988-5", "display": "CRP", "value": 3.0,
                                                   "unit": "mg/L"}]))
    stored = await eventually(lambda: docs.find_one({"_id": whole["_id"], "version_count": 2}))
    assert "current" not in stored and "tokens" not in stored
    detail = await reads.get(patient, whole["_id"])
    assert detail is not None and detail["title"] == "Hémogramme corrigé"
    assert [o["loinc"] for o in detail["observations"]] == ["1988-5"]
    assert [v["status"] for v in detail["versions"]] == ["final", "corrected"]


async def test_unknown_patient_is_parked_then_released_when_registered(
        records: Worker, producer: AIOKafkaProducer, mongo: Any, run_id: str, unique: str, patient: str,
        docs: Any) -> None:
    lab = f"LAB-{unique}"
    await send(producer, lab_result(lab, message_id="p1", patient_matricule=patient))
    parked = mongo[f"{run_id}_records"]["parked"]
    await eventually(lambda: parked.find_one({"patient_matricule": patient}))
    assert await docs.find_one({"laboratory_id": lab}) is None

    await producer.send_and_wait("registry.persons.v1", encode(person(patient)), key=patient.encode())

    doc = await eventually(lambda: docs.find_one({"laboratory_id": lab}))
    assert doc["patient_matricule"] == patient and doc["versions"][-1]["message_id"] == "p1"
    assert await eventually(lambda: _none(parked, patient))


async def _none(collection: Any, patient: str) -> bool:
    return await collection.count_documents({"patient_matricule": patient}) == 0


async def test_bad_results_get_reasons(records: Worker, producer: AIOKafkaProducer, mongo: Any, run_id: str,
                                       unique: str, docs: Any, infra: Any) -> None:
    lab = f"LAB-{unique}"
    await send(producer, lab_result(lab, report="A", message_id="same"))
    await send(producer, lab_result(lab, report="B", message_id="same"))  # the lab reused a message id
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    await send(producer, lab_result(lab, report="F", message_id="f", collected_at=future, reported_at=future))
    await send(producer, lab_result(lab, report="P", message_id="p", attachment={
        "content_type": "application/pdf", "data_base64": base64.b64encode(PNG).decode()}))
    await producer.send_and_wait("lab.results.v1", encode(lab_result(lab, report="K", message_id="k")),
                                 key=f"{lab}:OTHER".encode())

    dead = await read_topic(infra.bootstrap, "lab.results.v1.dlq", f"{lab}:".encode(), count=4,
                            group=f"{run_id}-records")
    reasons = {r.key.decode().split(":")[1]: header(r, "dlq-reason") for r in dead}
    reasons = {("A|B" if k in "AB" else k): v for k, v in reasons.items()}  # A and B sit on different partitions:
    assert reasons == {"A|B": "message_id was already used for another report",  # the second one is refused
                       "F": "collected_at is in the future",
                       "P": "document content is image/png, not the declared application/pdf",
                       "OTHER": "message key does not match the value's laboratory_id:report_id"}
    assert await docs.count_documents({"laboratory_id": lab}) == 1


async def test_attachment_goes_to_gridfs_and_back(records: Worker, producer: AIOKafkaProducer, unique: str,
                                                  docs: Any, reads: Reads) -> None:
    lab = f"LAB-{unique}"
    await send(producer, lab_result(lab, message_id="att", attachment={
        "content_type": "application/pdf", "data_base64": base64.b64encode(PDF).decode()}))
    doc = await eventually(lambda: docs.find_one({"laboratory_id": lab}))
    assert "data_base64" not in json.dumps(doc, default=str)
    assert await reads.file("1893120105732", doc["_id"]) == ("application/pdf", PDF)


async def test_patient_upload_search_timeline_block_and_unblock(
        records: Worker, producer: AIOKafkaProducer, mongo: Any, run_id: str, unique: str, patient: str,
        reads: Reads, infra: Any) -> None:
    await register(producer, mongo, run_id, patient)
    lab = f"LAB-{unique}"
    await send(producer, lab_result(lab, message_id="x", patient_matricule=patient, title="Bilan lipidique"))
    upload = {"command": "upload-document", "command_id": f"up-{unique}", "patient_matricule": patient,
              "uploaded_by": patient, "title": "Radiographie genou", "content_type": "application/pdf",
              "data_base64": base64.b64encode(PDF).decode(), "document_date": "2026-10-01T09:00:00+02:00"}
    for _ in range(2):  # redelivered: applied once
        await producer.send_and_wait("records.commands.v1", json.dumps(upload).encode(), key=patient.encode())
    await eventually(lambda: _count(reads, patient, 2))

    uploaded = (await reads.search(patient, "radiographie"))[0]
    assert uploaded["document_type"] == "patient-upload" and uploaded["author"] == "patient"
    assert [d["title"] for d in await reads.search(patient, "hémoglobine lipidique")] == ["Bilan lipidique"]
    assert await reads.search(patient, "scanner") == []
    october = await reads.timeline(patient, datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
    assert [d["title"] for d in october] == ["Radiographie genou"]
    assert await reads.file(patient, uploaded["id"]) == ("application/pdf", PDF)

    block = {"command": "block-document", "command_id": f"b-{unique}", "patient_matricule": patient,
             "requested_by": patient, "document_id": uploaded["id"]}
    await producer.send_and_wait("records.commands.v1", json.dumps(block).encode(), key=patient.encode())
    await eventually(lambda: _titles(reads, patient, "professional", ["Bilan lipidique"]))
    assert len(await reads.all(patient, viewer="patient")) == 2  # the patient still sees it
    assert await reads.get(patient, uploaded["id"], viewer="professional") is None

    unblock = {**block, "command": "unblock-document", "command_id": f"u-{unique}"}
    await producer.send_and_wait("records.commands.v1", json.dumps(unblock).encode(), key=patient.encode())
    await eventually(lambda: _titles(reads, patient, "professional", ["Bilan lipidique", "Radiographie genou"]))
    changes = await eventually(lambda: _visibility(infra.bootstrap, patient, uploaded["id"], 2))
    assert [c["blocked"] for c in changes] == [True, False]  # access learns it and hides the document

    bad = [{**upload, "command_id": f"png-{unique}", "data_base64": base64.b64encode(PNG).decode()},
           {**block, "command_id": f"nodoc-{unique}", "document_id": "no-such-document"}]
    for i, cmd in enumerate(bad):
        await producer.send_and_wait("records.commands.v1", json.dumps(cmd).encode(),
                                     key=f"bad-{unique}-{i}".encode())
    dead = await read_topic(infra.bootstrap, "records.commands.v1.dlq", f"bad-{unique}".encode(), count=2,
                            group=f"{run_id}-records")
    assert sorted(header(r, "dlq-reason") for r in dead) == [
        "document content is image/png, not the declared application/pdf",
        "no such document in this patient's DSP"]


async def _count(reads: Reads, patient: str, n: int) -> bool:
    return len(await reads.all(patient)) == n


async def _titles(reads: Reads, patient: str, viewer: Any, titles: list[str]) -> bool:
    return sorted(d["title"] for d in await reads.all(patient, viewer=viewer)) == titles


async def test_fhir_bundle_is_stored_like_a_json_result_and_a_bad_one_comes_back(
        records: Worker, producer: AIOKafkaProducer, unique: str, docs: Any, run_id: str, infra: Any) -> None:
    from tests.support import fhir_bundle

    lab = f"LAB-{unique}"
    good = json.dumps(fhir_bundle(lab, "F-1", f"fhir-{unique}")).encode()
    for _ in range(2):  # the same FHIR message twice: stored once
        await producer.send_and_wait("lab.results.fhir.v1", good, key=f"{lab}:F-1".encode())
    bad = fhir_bundle(lab, "F-2", f"fhir-bad-{unique}")
    bad["entry"] = [e for e in bad["entry"] if e["resource"]["resourceType"] != "Patient"]
    await producer.send_and_wait("lab.results.fhir.v1", json.dumps(bad).encode(), key=f"{lab}:F-2".encode())

    doc = await eventually(lambda: docs.find_one({"laboratory_id": lab, "report_id": "F-1"}))
    assert doc["title"] == "Hémogramme et CRP" and doc["version_count"] == 1
    assert [o["loinc"] for o in doc["versions"][-1]["observations"]] == ["718-7", "1988-5", "600-7"]
    dead = await read_topic(infra.bootstrap, "lab.results.fhir.v1.dlq", f"{lab}:F-2".encode(), count=1,
                            group=f"{run_id}-records")
    assert header(dead[0], "dlq-reason") == "the bundle must hold exactly one Patient (found 0)"
    await eventually(lambda: _versions(docs, lab, 1))


async def test_a_dead_letter_reason_names_no_matricule(records: Worker, producer: AIOKafkaProducer, unique: str,
                                                       run_id: str, infra: Any) -> None:
    """Issue 24: `reference 'Observation/1982010112380' does not resolve` reached every console operator."""
    from tests.support import fhir_bundle

    lab = f"LAB-{unique}"
    for n, written in enumerate(("1982010112380", "198201.0112380", "1982 0101 123 80")):
        bundle = fhir_bundle(lab, f"M-{n}", f"fhir-m-{unique}-{n}")
        bundle["entry"][0]["resource"]["result"] = [{"reference": f"Observation/{written}"}]
        await producer.send_and_wait("lab.results.fhir.v1", json.dumps(bundle).encode(), key=f"{lab}:M-{n}".encode())
    dead = await read_topic(infra.bootstrap, "lab.results.fhir.v1.dlq", f"{lab}:M-".encode(), count=3,
                            group=f"{run_id}-records")
    reasons = sorted({header(r, "dlq-reason") for r in dead})
    assert reasons == ["reference 'Observation/[REDACTED]' does not resolve to a Observation in the bundle"], reasons
    assert all(b"1982" in r.value for r in dead)  # the original bytes are kept for the replay, the reason is clean
    assert all(dict(r.headers)["dlq-source-topic"] == b"lab.results.fhir.v1" for r in dead)

async def _versions(docs: Any, lab: str, n: int) -> bool:
    doc = await docs.find_one({"laboratory_id": lab, "report_id": "F-1"})
    return doc is not None and doc["version_count"] == n


async def _visibility(bootstrap: str, patient: str, document_id: str, n: int) -> list[dict[str, Any]] | None:
    told = await read_topic(bootstrap, "records.document-visibility.v1", patient.encode(), count=1, within_s=5)
    changes = [json.loads(r.value) for r in told if json.loads(r.value)["document_id"] == document_id]
    return changes if len(changes) >= n else None
