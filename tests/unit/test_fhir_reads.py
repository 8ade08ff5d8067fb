"""The FHIR door's reads by id (`services.gateway.fhir.reads.Reader`) over doubles of records and access (httpx's
mock transport): a read by id stands on its own — records says whose DSP the document is in, access decides on that
DSP and that document — and every refusal (an unknown id, a document she blocked, a DSP this professional may not
read) is the same 404, telling nothing of the document. (The real mesh: tests/integration/test_fhir_api.py.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from services.gateway.context import Context
from services.gateway.fhir import routes as fhir_routes
from services.gateway.fhir.ids import PatientIds
from services.gateway.fhir.reads import Reader
from services.gateway.fhir.smart import Grant
from services.gateway.problems import Refusal

PATIENT = "1893120105732"
IDS = PatientIds(b"unit-key" * 4)
AT = datetime(2026, 11, 20, 8, tzinfo=UTC).isoformat()
DOC = {"id": "d1", "document_type": "lab-result", "title": "Bilan", "author": "LAB-1", "laboratory_name": "Labo",
       "document_date": AT, "reported_at": AT, "status": "active", "blocked": False, "version_count": 1,
       "has_file": True, "laboratory_id": "LAB-1", "prescriber_id": None, "observations": [],
       "versions": [{"version": 1, "status": "final", "current": True, "change": "added", "title": "Bilan",
                     "collected_at": AT, "reported_at": AT, "received_at": AT, "observations": [], "has_file": True}],
       "file": {"content_type": "application/pdf", "size": 4}}
FILE = {"document_id": "d1", "version": 1, "content_type": "application/pdf", "size": 4, "data_base64": "JVBERg=="}


class Mesh:
    """records knows `d1` (in PATIENT's DSP) and nothing else; access answers `decision`."""

    def __init__(self, decision: dict[str, Any] | None = None) -> None:
        self.decision = decision or {"allowed": True, "reason": "trusted-circle", "grant": "trusted-circle"}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.records_down = False

    def access(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.url.path, json.loads(request.content)))
        return httpx.Response(200, json=self.decision)

    def records(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.calls.append((request.url.path, body))
        if self.records_down:
            return httpx.Response(500, json={"detail": "boom"})
        if body.get("document_id") != "d1" or body.get("patient", PATIENT) != PATIENT:
            return httpx.Response(404, json={"detail": "no such document"})
        return httpx.Response(200, json={"/v1/documents/owner": {"patient": PATIENT}, "/v1/documents/detail": DOC,
                                         "/v1/documents/file": FILE}[request.url.path])

    def reader(self, professional: str = "PRO-1000") -> Reader:
        access = httpx.AsyncClient(base_url="http://access", transport=httpx.MockTransport(self.access))
        records = httpx.AsyncClient(base_url="http://records", transport=httpx.MockTransport(self.records))
        c = Context(None, None, access, records, None, False)  # type: ignore[arg-type]
        return Reader(c, IDS, "https://dsp.example.lu/fhir/r4", Grant(professional, frozenset({"user/*.read"}), "x"))


async def test_a_read_by_id_needs_no_search_first_records_names_the_dsp_and_access_decides_on_the_document() -> None:
    mesh = Mesh()
    found = await mesh.reader().document_reference("d1")  # a fresh reader: nothing learnt before
    assert found["id"] == "d1" and found["subject"]["reference"] == f"Patient/{IDS.of(PATIENT)}"
    assert mesh.calls == [
        ("/v1/documents/owner", {"document_id": "d1"}),
        ("/v1/decisions", {"actor": {"kind": "professional", "id": "PRO-1000"}, "action": "read",
                           "patient": PATIENT, "document": "d1"}),
        ("/v1/documents/detail", {"patient": PATIENT, "viewer": "professional", "document_id": "d1"})]
    assert (await mesh.reader().report("d1"))["resourceType"] == "DiagnosticReport"
    assert (await mesh.reader().history("d1"))["type"] == "history"
    assert (await mesh.reader().binary("d1-v1")).data_base64 == "JVBERg=="
    assert [p for p, _ in mesh.calls[-3:]] == ["/v1/documents/owner", "/v1/decisions", "/v1/documents/file"]


@pytest.mark.parametrize("read", ["document_reference", "report", "history", "binary"])
async def test_unknown_blocked_or_not_allowed_is_the_same_404_and_the_refused_attempt_goes_to_access(
        read: str) -> None:
    answers = []
    for document, decision in (("nope", None),  # unknown: access is not asked (no DSP to decide on)
                               ("d1", {"allowed": False, "reason": "document blocked by the patient"}),
                               ("d1", {"allowed": False, "reason": "not in the patient's trusted circle"})):
        mesh = Mesh(decision)
        with pytest.raises(Refusal) as refused:
            await getattr(mesh.reader(), read)(f"{document}-v1" if read == "binary" else document)
        answers.append((refused.value.status_code, refused.value.detail, refused.value.problem))
        decided = [body for path, body in mesh.calls if path == "/v1/decisions"]
        assert decided == ([] if document == "nope" else [{"actor": {"kind": "professional", "id": "PRO-1000"},
                                                           "action": "read", "patient": PATIENT, "document": "d1"}])
        assert not any(p in ("/v1/documents/detail", "/v1/documents/file") for p, _ in mesh.calls)
    assert answers[0][:2] == (404, "no such resource") and answers == [answers[0]] * 3


async def test_a_search_refused_still_says_why_and_an_unanswering_service_is_a_503() -> None:
    mesh = Mesh({"allowed": False, "reason": "not in the patient's trusted circle"})
    with pytest.raises(Refusal) as refused:
        await mesh.reader().patient(IDS.of(PATIENT))  # a read of the DSP itself: the patient is named, say why
    assert (refused.value.status_code, refused.value.detail) == (403, "not in the patient's trusted circle")
    down = Mesh()
    down.records_down = True
    with pytest.raises(Refusal) as unavailable:
        await down.reader().document_reference("d1")
    assert unavailable.value.status_code == 503 and [p for p, _ in down.calls] == ["/v1/documents/owner"]


def test_an_id_that_cannot_be_a_dsp_documents_is_no_resource_before_anything_is_asked() -> None:
    """FHIR's id rule, starting with a letter or a digit as a DSP identifier does: anything else is the same 404
    (not a request contract refused further on)."""
    assert fhir_routes._id("d1") == "d1" and fhir_routes._id("a" * 64) == "a" * 64
    for bad in ("-d1", ".d1", "d_1", "a" * 65, "dé", ""):
        with pytest.raises(Refusal) as refused:
            fhir_routes._id(bad)
        assert (refused.value.status_code, refused.value.detail) == (404, "no such resource")


def test_a_fhir_answer_is_the_same_compact_utf8_json_as_before_and_never_invalid_json() -> None:
    """The door writes its resources with pydantic-core (as the export): byte for byte what the standard library's
    JSONResponse wrote (compact, UTF-8 left as is, control characters escaped), its media type and length; a
    non-finite float (refused upstream by the lab-result contract) is `null`, not `NaN`."""
    resource = {"resourceType": "Bundle", "total": 2, "entry": [
        {"resource": {"title": "Hémogramme \u2028 \"CRP\" <b>/\\\x01", "valueQuantity": {"value": 13.2}, "n": None,
                      "ok": True, "values": [12.0, 0.1, 1e16, 3]}}]}
    sent = fhir_routes.answer(resource, 201, {"ETag": 'W/"1"'})
    assert sent.body == json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode()
    assert (sent.status_code, sent.media_type, sent.headers["etag"]) == (201, "application/fhir+json", 'W/"1"')
    assert sent.headers["content-type"] == "application/fhir+json"
    assert int(sent.headers["content-length"]) == len(sent.body)
    assert fhir_routes.answer({"value": float("nan")}).body == b'{"value":null}'
