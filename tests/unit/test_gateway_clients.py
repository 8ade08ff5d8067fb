"""The gateway's typed clients (issue 25): a service's request contract in, its answer model out; what the service
would refuse is refused before anything is sent, with the fields where the portal's client sent them; an answer
that breaks its contract is a 503, as a service that does not answer."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from schemas.activation import LoginCodeRequest
from schemas.records_api import DocumentQuery, DocumentsQuery, TimelineQuery
from services.gateway.calls import query
from services.gateway.clients import ActivationClient, RecordsClient
from services.gateway.problems import Refusal

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
