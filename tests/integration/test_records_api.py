"""records' internal read API on the real stack, called as the gateway and the console call it: documents paged by
cursor, search, timeline, a document's detail (observations, every version, the file), the status of a command."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from infra.procs import free_port
from schemas.fields import rfc3339
from services.records.app import RecordsSettings, create_app
from services.records.domain import documents as domain
from tests.inprocess import FakeClock, InProcessWorker, settings_from
from tests.support import as_caller, encode, eventually, lab_result, make_matricule, person

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def prefix(run_id: str) -> str:
    return f"{run_id}rapi"  # its own database and consumer group: the test owns this worker's clock


@pytest.fixture(scope="module")
def api(infra: Any, prefix: str, clock: FakeClock) -> Iterator[InProcessWorker]:
    port = free_port()
    env = {"DSP_KAFKA_BOOTSTRAP": infra.bootstrap, "DSP_MONGO_URI": infra.mongo_uri, "DSP_MONGO_DB_PREFIX": prefix,
           "DSP_KAFKA_GROUP_PREFIX": f"{prefix}-", "DSP_LOG_PSEUDONYM_KEY": secrets.token_hex(24),
           "DSP_RECORDS_HTTP_PORT": str(port), "DSP_RETRY_BACKOFF_MAX_S": "2"}
    worker = InProcessWorker(create_app(settings_from(RecordsSettings, env), clock), port, audience="records").start()
    yield worker
    worker.stop()


@pytest.fixture
async def patient(producer: AIOKafkaProducer, api: InProcessWorker, mongo: Any, prefix: str) -> str:
    """A patient of this test alone, announced by the registry (so their results are stored, not parked)."""
    matricule = make_matricule(date(1950 + random.randrange(50), 1 + random.randrange(12), 1 + random.randrange(28)),
                               random.randrange(1000))
    await producer.send_and_wait("registry.persons.v1", encode(person(matricule)), key=matricule.encode())
    await eventually(lambda: mongo[f"{prefix}_records"]["persons"].find_one({"_id": matricule}))
    return matricule


async def call(api: InProcessWorker, path: str, **body: Any) -> tuple[int, Any]:
    status, text = await asyncio.to_thread(api.http, "POST", path, encode(body))
    return status, json.loads(text)


async def ok(api: InProcessWorker, path: str, **body: Any) -> Any:
    status, answer = await call(api, path, **body)
    assert status == 200, (status, answer)
    return answer


async def send(producer: AIOKafkaProducer, body: dict[str, Any]) -> None:
    await producer.send_and_wait("lab.results.v1", encode(body), key=f"{body['laboratory_id']}:{body['report_id']}"
                                 .encode())


async def command(producer: AIOKafkaProducer, body: dict[str, Any]) -> None:
    await producer.send_and_wait("records.commands.v1", encode(body), key=body["patient_matricule"].encode())


def knock(port: int, headers: dict[str, str], body: bytes, path: str) -> tuple[int, str]:
    """A call with exactly these headers (no gateway token unless given)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 - a fixed http:// URL
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def ids(page: dict[str, Any]) -> list[str]:
    return [d["id"] for d in page["items"]]


async def test_detail_has_observations_every_version_and_each_version_s_file(
        api: InProcessWorker, producer: AIOKafkaProducer, patient: str, unique: str, clock: FakeClock) -> None:
    lab = f"LAB-{unique}"
    await send(producer, lab_result(lab, message_id="m-1", patient_matricule=patient))
    corrected = [{"loinc": "718-7", "display": "Hémoglobine", "value": 11.1, "unit": "g/dL", "reference_low": 12.0,
                  "reference_high": 16.0, "interpretation": "L"},
                 {"loinc": "600-7", "display": "Hémoculture", "value_text": "Positive", "interpretation": "A"}]
    await send(producer, lab_result(lab, message_id="m-2", patient_matricule=patient, status="corrected",
                                    reported_at="2026-11-20T16:45:00+01:00", observations=corrected,
                                    attachment={"content_type": "application/pdf",
                                                "data_base64": base64.b64encode(PDF).decode()}))
    doc_id = domain.document_id(lab, "R1")

    async def both_versions() -> Any:
        status, found = await call(api, "/v1/documents/detail", patient=patient, document_id=doc_id)
        return found if status == 200 and found["version_count"] == 2 else None

    detail = await eventually(both_versions)
    assert {k: detail[k] for k in ("id", "document_type", "title", "author", "status", "blocked", "has_file")} == {
        "id": doc_id, "document_type": "lab-result", "title": "Hémogramme complet", "author": lab, "status": "active",
        "blocked": False, "has_file": True}
    assert detail["document_date"] == "2026-11-20T07:05:00.000Z" and detail["reported_at"] == "2026-11-20T15:45:00.000Z"
    assert (detail["laboratory_id"], detail["prescriber_id"]) == (lab, "DR-4711")
    assert detail["observations"] == [
        {"loinc": "718-7", "display": "Hémoglobine", "value": 11.1, "unit": "g/dL", "value_text": None,
         "reference_low": 12.0, "reference_high": 16.0, "interpretation": "L"},
        {"loinc": "600-7", "display": "Hémoculture", "value": None, "unit": None, "value_text": "Positive",
         "reference_low": None, "reference_high": None, "interpretation": "A"}]
    first, second = detail["versions"]
    assert {k: first[k] for k in ("version", "status", "current", "change", "has_file")} == {
        "version": 1, "status": "final", "current": False, "change": "added", "has_file": False}
    assert {k: second[k] for k in ("version", "status", "current", "change", "has_file")} == {
        "version": 2, "status": "corrected", "current": True, "change": "corrected", "has_file": True}
    assert first["reported_at"] == "2026-11-20T13:30:00.000Z" and first["collected_at"] == "2026-11-20T07:05:00.000Z"
    assert first["received_at"] == rfc3339(clock.now)
    assert [(o["loinc"], o["value"], o["value_text"], o["interpretation"]) for o in first["observations"]] == [
        ("718-7", 13.9, None, "N"), ("6690-2", 11.8, None, "H"), ("600-7", None, "Négative", None)]
    assert second["observations"] == detail["observations"]
    assert detail["file"] == {"content_type": "application/pdf", "size": len(PDF)}

    current = await ok(api, "/v1/documents/file", patient=patient, document_id=doc_id)
    assert (current["version"], current["content_type"], current["size"]) == (2, "application/pdf", len(PDF))
    assert base64.b64decode(current["data_base64"]) == PDF
    assert await ok(api, "/v1/documents/file", patient=patient, document_id=doc_id, version=2) == current
    for version in (1, 3):  # the original had no file; there is no third version
        assert (await call(api, "/v1/documents/file", patient=patient, document_id=doc_id, version=version))[0] == 404
    assert await ok(api, "/v1/documents/detail", patient=patient, viewer="professional", document_id=doc_id) == detail
    other = make_matricule(date(1961, 2, 3), 12)  # another patient's DSP does not hold it
    assert (await call(api, "/v1/documents/detail", patient=other, document_id=doc_id))[0] == 404
    assert (await call(api, "/v1/documents/detail", patient=patient, document_id="no-such-doc"))[0] == 404


async def test_lists_are_paged_by_cursor_searched_and_laid_on_a_timeline(
        api: InProcessWorker, producer: AIOKafkaProducer, patient: str, unique: str) -> None:
    lab = f"LAB-{unique}"
    titles = ["Glycémie à jeun", "Bilan lipidique", "Hémogramme", "TSH", "Ferritine"]
    for i, title in enumerate(titles):  # collected on 1..5 November, reported the other way round
        await send(producer, lab_result(lab, report=f"R{i}", message_id=f"m-{i}", patient_matricule=patient,
                                        title=title, collected_at=f"2026-11-0{1 + i}T08:00:00+01:00",
                                        reported_at=f"2026-11-2{5 - i}T10:00:00+01:00"))
    doc = [domain.document_id(lab, f"R{i}") for i in range(5)]
    await eventually(lambda: _all_stored(api, patient, 5))

    pages, cursor = [], None
    while True:
        page = await ok(api, "/v1/documents", patient=patient, limit=2, **({"cursor": cursor} if cursor else {}))
        pages.append(ids(page))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [[doc[4], doc[3]], [doc[2], doc[1]], [doc[0]]]  # clinical date, newest first
    latest = await ok(api, "/v1/documents", patient=patient, sort="reported_at", limit=3)
    assert ids(latest) == doc[:3] and latest["next_cursor"] is not None  # arrival, newest first
    assert ids(await ok(api, "/v1/documents", patient=patient, sort="reported_at",
                        cursor=latest["next_cursor"])) == doc[3:]

    assert ids(await ok(api, "/v1/documents", patient=patient, q="GLYCEMIE")) == [doc[0]]  # case, accents ignored
    assert ids(await ok(api, "/v1/documents", patient=patient, q="bilan lipidique")) == [doc[1]]
    assert ids(await ok(api, "/v1/documents", patient=patient, q=lab)) == doc[::-1]  # by laboratory
    assert await ok(api, "/v1/documents", patient=patient, q="ferritine jeun") == {"items": [], "next_cursor": None}
    assert await ok(api, "/v1/documents", patient=patient, q="a") == {"items": [], "next_cursor": None}

    window = {"patient": patient, "start": "2026-11-02T00:00:00Z", "end": "2026-11-05T00:00:00+01:00"}
    first = await ok(api, "/v1/documents/timeline", **window, limit=2)
    assert ids(first) == [doc[1], doc[2]]  # oldest first, 5 November 08:00+01:00 is outside
    rest = await ok(api, "/v1/documents/timeline", **window, limit=2, cursor=first["next_cursor"])
    assert ids(rest) == [doc[3]] and rest["next_cursor"] is None
    assert rest["items"][0]["document_date"] == "2026-11-04T07:00:00.000Z"

    for cursor in ("!!!", first["next_cursor"]):  # garbage, and a timeline's cursor given to another list
        status, answer = await call(api, "/v1/documents", patient=patient, cursor=cursor)
        assert status == 422 and answer["errors"][0]["loc"] == ["cursor"]
    status, answer = await call(api, "/v1/documents/timeline", patient=patient, start=window["end"],
                                end=window["start"])
    assert status == 422 and "end must be after start" in answer["errors"][0]["msg"]
    assert (await call(api, "/v1/documents", patient=patient, limit=0))[0] == 422
    assert (await call(api, "/v1/documents", patient="1893120105733"))[0] == 422  # not a matricule

    await send(producer, lab_result(lab, report="R3", message_id="cancel-3", patient_matricule=patient,
                                    status="cancelled", observations=[], reported_at="2026-11-26T09:00:00+01:00"))
    await eventually(lambda: _all_stored(api, patient, 4))
    withdrawn = await ok(api, "/v1/documents", patient=patient, include_withdrawn=True)
    assert [d["status"] for d in withdrawn["items"] if d["id"] == doc[3]] == ["withdrawn"]
    detail = await ok(api, "/v1/documents/detail", patient=patient, document_id=doc[3])
    assert [(v["status"], v["change"], v["current"]) for v in detail["versions"]] == [
        ("final", "added", False), ("cancelled", "withdrawn", True)]
    assert detail["status"] == "withdrawn" and detail["observations"] == []


async def _all_stored(api: InProcessWorker, patient: str, count: int) -> bool:
    return len((await ok(api, "/v1/documents", patient=patient, limit=100))["items"]) == count


async def test_uploads_and_blocks_report_their_status_and_professionals_never_see_a_blocked_document(
        api: InProcessWorker, producer: AIOKafkaProducer, patient: str, unique: str, clock: FakeClock) -> None:
    upload = {"command": "upload-document", "command_id": f"up-{unique}", "patient_matricule": patient,
              "uploaded_by": patient, "title": "Radiographie genou", "content_type": "application/pdf",
              "data_base64": base64.b64encode(PDF).decode(), "document_date": "2026-10-01T09:00:00+02:00"}
    doc_id = domain.upload_id(upload["command_id"])
    assert await ok(api, "/v1/commands/status", patient=patient, command_id=upload["command_id"]) == {
        "command_id": upload["command_id"], "status": "pending", "command": None, "document_id": None,
        "reason": None, "at": None}
    await command(producer, upload)
    applied_at = rfc3339(clock.now)
    done = await eventually(lambda: _settled(api, patient, upload["command_id"]))
    assert done == {"command_id": upload["command_id"], "status": "applied", "command": "upload-document",
                    "document_id": doc_id, "reason": None, "at": applied_at}
    other = make_matricule(date(1962, 3, 4), 21)  # another patient's command is not found
    assert (await ok(api, "/v1/commands/status", patient=other, command_id=upload["command_id"]))["status"] == "pending"

    detail = await ok(api, "/v1/documents/detail", patient=patient, document_id=doc_id)
    assert (detail["document_type"], detail["author"], detail["document_date"]) == (
        "patient-upload", "patient", "2026-10-01T07:00:00.000Z")
    assert [(v["version"], v["status"], v["current"], v["has_file"]) for v in detail["versions"]] == [
        (1, "final", True, True)]
    assert detail["file"] == {"content_type": "application/pdf", "size": len(PDF)}
    assert patient not in json.dumps(detail)  # neither the owner's nor the uploader's matricule

    block = {"command": "block-document", "command_id": f"b-{unique}", "patient_matricule": patient,
             "requested_by": patient, "document_id": doc_id}
    await command(producer, block)
    blocked_at = rfc3339(clock.now)
    assert (await eventually(lambda: _settled(api, patient, block["command_id"])))["at"] == blocked_at
    clock.advance(minutes=5)
    await command(producer, block)  # redelivered later: the first outcome stands
    bad = [{**upload, "command_id": f"png-{unique}", "data_base64": base64.b64encode(PNG).decode()},
           {**block, "command_id": f"nodoc-{unique}", "document_id": "no-such-document"}]
    for cmd in bad:
        await command(producer, cmd)
    refused = [await eventually(lambda c=c: _settled(api, patient, c["command_id"])) for c in bad]  # type: ignore[misc]
    assert [(r["status"], r["reason"]) for r in refused] == [
        ("rejected", "document content is image/png, not the declared application/pdf"),
        ("rejected", "no such document in this patient's DSP")]
    assert (await ok(api, "/v1/commands/status", patient=patient, command_id=block["command_id"]))["at"] == blocked_at

    mine = await ok(api, "/v1/documents", patient=patient)
    assert [(d["id"], d["blocked"]) for d in mine["items"]] == [(doc_id, True)]  # the patient still sees it
    seen_by_pro = {"patient": patient, "viewer": "professional"}
    assert await ok(api, "/v1/documents", **seen_by_pro) == {"items": [], "next_cursor": None}
    assert ids(await ok(api, "/v1/documents", **seen_by_pro, q="radiographie")) == []
    assert ids(await ok(api, "/v1/documents/timeline", **seen_by_pro, start="2026-09-01T00:00:00Z",
                        end="2026-11-01T00:00:00Z")) == []
    for path in ("/v1/documents/detail", "/v1/documents/file"):
        assert (await call(api, path, **seen_by_pro, document_id=doc_id))[0] == 404
    many = await ok(api, "/v1/documents/details", patient=patient, document_ids=[doc_id, "no-such-document"],
                    files=True)  # many at once, as the single reads: her blocked document, its file, one unknown
    assert [d["id"] for d in many["items"]] == [doc_id] and many["missing"] == ["no-such-document"]
    assert [(f["document_id"], f["version"], base64.b64decode(f["data_base64"])) for f in many["files"]] == [
        (doc_id, 1, PDF)] and many["items"][0]["file"] == {"content_type": "application/pdf", "size": len(PDF)}
    assert await ok(api, "/v1/documents/details", **seen_by_pro, files=True) == {
        "items": [], "files": [], "missing": [], "next_cursor": None}
    assert (await ok(api, "/v1/documents/details", **seen_by_pro, document_ids=[doc_id]))["missing"] == [doc_id]
    assert await ok(api, "/v1/documents/owner", document_id=doc_id) == {"patient": patient}  # blocked or not
    assert (await call(api, "/v1/documents/owner", document_id="no-such-document"))[0] == 404
    status, problem = await call(api, "/v1/documents/details", patient=patient, document_ids=[doc_id], cursor="x")
    assert status == 422 and "without document_ids" in json.dumps(problem)
    assert await ok(api, "/v1/documents/titles", patient=patient, ids=[doc_id, "no-such-document"]) == {
        "titles": {doc_id: "Radiographie genou"}}
    assert await ok(api, "/v1/documents/titles", patient=other, ids=[doc_id]) == {"titles": {}}

    unblock = {**block, "command": "unblock-document", "command_id": f"u-{unique}"}
    await command(producer, unblock)
    assert (await eventually(lambda: _settled(api, patient, unblock["command_id"])))["status"] == "applied"
    assert ids(await ok(api, "/v1/documents", **seen_by_pro)) == [doc_id]
    file = await ok(api, "/v1/documents/file", **seen_by_pro, document_id=doc_id)
    assert base64.b64decode(file["data_base64"]) == PDF and file["version"] == 1
    assert [d["id"] for d in (await ok(api, "/v1/documents/details", **seen_by_pro))["items"]] == [doc_id]


async def _settled(api: InProcessWorker, patient: str, command_id: str) -> Any:
    found = await ok(api, "/v1/commands/status", patient=patient, command_id=command_id)
    return found if found["status"] != "pending" else None


async def test_only_the_gateway_reads_documents_and_only_the_console_counts(
        api: InProcessWorker, producer: AIOKafkaProducer, mongo: Any, prefix: str, patient: str, unique: str) -> None:
    body = encode({"patient": patient})
    json_type = {"content-type": "application/json"}
    assert knock(api.port, json_type, body, "/v1/documents")[0] == 401  # no service token
    status, text = knock(api.port, {**json_type, **as_caller("console", "records")}, body, "/v1/documents")
    assert (status, json.loads(text)["detail"]) == (403, "service console may not call this API")
    assert knock(api.port, {**json_type, **as_caller("gateway", "access")}, body, "/v1/documents")[0] == 401
    assert knock(api.port, {**json_type, **as_caller("gateway", "records")}, encode({}), "/v1/stats")[0] == 403
    assert knock(api.port, {"content-type": "text/plain", **as_caller("gateway", "records")}, body,
                 "/v1/documents")[0] == 415
    for path in ("/v1/documents/timeline", "/v1/documents/detail", "/v1/documents/file", "/v1/documents/details",
                 "/v1/documents/owner", "/v1/documents/titles", "/v1/commands/status", "/v1/stats"):
        assert knock(api.port, json_type, body, path)[0] == 401
    assert (await ok(api, "/v1/documents", patient=patient))["items"] == []  # the gateway may

    await send(producer, lab_result(f"LAB-{unique}", message_id="counted", patient_matricule=patient))
    db = mongo[f"{prefix}_records"]

    async def counted() -> Any:
        status, text = knock(api.port, {**json_type, **as_caller("console", "records")}, encode({}), "/v1/stats")
        assert status == 200, text
        stats = json.loads(text)
        expected = {"lab_results_stored": await db["documents"].count_documents({"document_type": "lab-result"}),
                    "patient_uploads": await db["documents"].count_documents({"document_type": "patient-upload"}),
                    "parked_results": await db["parked"].count_documents({})}
        mine = await db["documents"].count_documents({"patient_matricule": patient})
        return stats if stats == expected and mine == 1 else None

    stats = await eventually(counted)  # what records' database holds, this patient's result included
    assert stats["lab_results_stored"] >= 1
