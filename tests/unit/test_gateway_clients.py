"""The gateway's typed clients (issue 25): a service's request contract in, its answer model out; what the service
would refuse is refused before anything is sent, with the fields where the portal's client sent them; an answer
that breaks its contract is a 503, as a service that does not answer."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from schemas.access import ActorRef
from schemas.activation import LoginCodeRequest
from schemas.records_api import DetailsQuery, DocumentQuery, DocumentsQuery, OwnerQuery, TimelineQuery
from services.gateway.calls import query
from services.gateway.clients import AccessClient, ActivationClient, RecordsClient
from services.gateway.problems import Refusal
from services.gateway.routes import export as export_routes

PATIENT = "1893120105732"
DETAIL = {"id": "d1", "document_type": "lab-result", "title": "Hémogramme", "author": "LAB-1",
          "laboratory_name": "Laboratoire Un", "document_date": "2026-10-05T08:00:00Z",
          "reported_at": "2026-10-05T12:00:00Z", "status": "active", "blocked": False, "version_count": 1,
          "has_file": False, "laboratory_id": "LAB-1", "prescriber_id": None, "observations": [], "versions": [],
          "file": None}


def records(answers: dict[str, tuple[int, Any]], seen: list[tuple[str, dict[str, Any]]]) -> RecordsClient:
    def service(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, json.loads(request.content)))
        status, answer = answers[request.url.path]
        return httpx.Response(status, json=answer)
    return RecordsClient(httpx.AsyncClient(transport=httpx.MockTransport(service), base_url="http://records"))


async def test_a_read_sends_the_contract_and_answers_its_model() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    client = records({"/v1/documents/detail": (200, DETAIL)}, seen)
    found = await client.detail(DocumentQuery(patient=PATIENT, viewer="professional", document_id="d1"))
    assert found.title == "Hémogramme" and found.versions == []
    assert seen == [("/v1/documents/detail", {"patient": PATIENT, "viewer": "professional", "document_id": "d1"})]


async def test_an_answer_that_breaks_its_contract_is_a_503_and_a_refusal_keeps_its_reason() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    client = records({"/v1/documents/detail": (200, {**DETAIL, "status": "lost"}),
                      "/v1/documents": (422, {"detail": "invalid request",
                                              "errors": [{"loc": ["cursor"], "msg": "not a cursor we gave out"}]}),
                      "/v1/documents/titles": (404, {"detail": "no"})}, seen)
    with pytest.raises(Refusal) as broken:
        await client.detail(DocumentQuery(patient=PATIENT, document_id="d1"))
    assert (broken.value.problem.status, broken.value.problem.reason) == (503, "records unavailable; try again")
    with pytest.raises(Refusal) as bad:
        await client.documents(DocumentsQuery(patient=PATIENT, cursor="x"), where="body")
    assert bad.value.problem.status == 422 and bad.value.problem.errors is not None
    assert [e.loc for e in bad.value.problem.errors] == [["body", "cursor"]]


def test_what_the_service_would_refuse_is_refused_before_it_is_sent() -> None:
    with pytest.raises(Refusal) as refused:
        query(TimelineQuery, patient=PATIENT, start="2026-10-05T00:00:00Z", end="2026-10-01T00:00:00Z")
    assert refused.value.problem.status == 422 and refused.value.problem.errors is not None
    assert [e.loc for e in refused.value.problem.errors] == [["query"]]
    with pytest.raises(Refusal) as token:  # activation names its own fields (no query/body): as it says them
        query(LoginCodeRequest, None, login_token="short", code="123456")
    assert token.value.problem.errors is not None
    assert [e.loc for e in token.value.problem.errors] == [["login_token"]]


async def test_an_unknown_or_ended_session_is_none_and_an_unanswering_activation_a_503() -> None:
    def activation(request: httpx.Request) -> httpx.Response:
        token = json.loads(request.content)["session_token"]
        if token == "down":
            return httpx.Response(502, json={"detail": "bad gateway"})
        if token == "live":
            return httpx.Response(200, json={"matricule": PATIENT, "expires_at": "2026-12-01T10:30:00+00:00"})
        return httpx.Response(401, json={"detail": "no such session"})

    client = ActivationClient(httpx.AsyncClient(transport=httpx.MockTransport(activation), base_url="http://a"))
    found = await client.session("live")
    assert found is not None and found.matricule == PATIENT
    assert await client.session("ended") is None
    with pytest.raises(Refusal) as down:
        await client.session("down")
    assert down.value.problem.status == 503


async def test_many_details_and_a_documents_owner_are_read_by_their_contracts() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    client = records({"/v1/documents/details": (200, {"items": [DETAIL], "files": [], "missing": ["d9"],
                                                      "next_cursor": None}),
                      "/v1/documents/owner": (404, {"detail": "no such document"})}, seen)
    found = await client.details(DetailsQuery(patient=PATIENT, viewer="professional", document_ids=["d1", "d9"]))
    assert [d.id for d in found.items] == ["d1"] and found.missing == ["d9"]
    assert seen[0][0] == "/v1/documents/details" and seen[0][1]["document_ids"] == ["d1", "d9"]
    with pytest.raises(Refusal) as unknown:
        await client.owner(OwnerQuery(document_id="d9"))
    assert (unknown.value.problem.status, seen[1]) == (404, ("/v1/documents/owner", {"document_id": "d9"}))


async def test_the_export_pages_her_documents_and_her_trail_through_the_typed_clients() -> None:
    """`routes/export.py`: records' details a page at a time (files included), access's trail a page at a time,
    oldest entry first."""
    seen: list[tuple[str, dict[str, Any]]] = []
    second = {**DETAIL, "id": "d2"}
    file = {"document_id": "d2", "version": 1, "content_type": "application/pdf", "size": 4, "data_base64": "JVBERg=="}

    def records_api(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append((request.url.path, body))
        if body.get("cursor") is None:
            return httpx.Response(200, json={"items": [DETAIL], "files": [], "missing": [], "next_cursor": "c1"})
        return httpx.Response(200, json={"items": [second], "files": [file], "missing": [], "next_cursor": None})

    entry = {"at": "2026-10-05T12:00:00Z", "who": {"kind": "patient", "id": PATIENT, "name": "Marie Weber"},
             "action": "read", "document_id": None, "allowed": True, "reason": "owner"}

    def access_api(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append((request.url.path, body))
        if body.get("cursor") is None:
            return httpx.Response(200, json={"items": [{**entry, "reason": "newest"}], "next_cursor": "a1"})
        return httpx.Response(200, json={"items": [{**entry, "reason": "oldest"}], "next_cursor": None})

    documents, files = await export_routes._documents(RecordsClient(httpx.AsyncClient(
        transport=httpx.MockTransport(records_api), base_url="http://records")), PATIENT)
    assert [d.id for d in documents] == ["d1", "d2"] and [f.document_id for f in files] == ["d2"]
    trail = await export_routes._trail(AccessClient(httpx.AsyncClient(
        transport=httpx.MockTransport(access_api), base_url="http://access")), ActorRef(kind="patient", id=PATIENT),
        PATIENT)
    assert [e.reason for e in trail] == ["oldest", "newest"]
    assert [(p, b.get("cursor"), b.get("files"), b.get("viewer")) for p, b in seen if "documents" in p] == [
        ("/v1/documents/details", None, True, "patient"), ("/v1/documents/details", "c1", True, "patient")]
    assert [(p, b.get("cursor"), b["limit"]) for p, b in seen if p == "/v1/audit"] == [
        ("/v1/audit", None, 1000), ("/v1/audit", "a1", 1000)]
