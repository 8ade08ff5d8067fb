"""The portal API a front-end can trust, without infrastructure: one error shape (RFC 9457 problems) for every
4xx/5xx the gateway answers, a response model on every route of the OpenAPI document, the patient's access
commands as a discriminated union, and RFC 3339 UTC `Z` dates in the gateway's answers."""

from __future__ import annotations

import json
import secrets
import typing
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import TypeAdapter, ValidationError

from schemas import access
from schemas.portal import Problem, ProLogin, StepResult, problem
from schemas.portal_access import PATIENT_COMMANDS, AccessState, AuditEntry, AuditPage, PatientAccessCommand
from schemas.portal_documents import CommandState, MarkRead
from schemas.records_api import CommandStatus
from services.gateway import calls, problems
from services.gateway.app import GatewaySettings
from services.gateway.app import create_app as gateway_app
from tests.inprocess import settings_from

ENV = {"DSP_LOG_PSEUDONYM_KEY": secrets.token_hex(24), "DSP_MONGO_URI": "mongodb://127.0.0.1:9/",
       "DSP_KAFKA_BOOTSTRAP": "127.0.0.1:9"}
PROBLEM = "application/problem+json"


@pytest.fixture
async def gateway() -> AsyncIterator[httpx.AsyncClient]:
    """The gateway as ASGI, its dependencies unreachable (nothing here needs them, or it is a 503)."""
    app = gateway_app(settings_from(GatewaySettings, ENV))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        yield client


def assert_problem(reply: httpx.Response, status: int, kind: str, reason: str | None = None) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == PROBLEM
    body: dict[str, Any] = reply.json()
    Problem.model_validate(body)
    assert (body["type"], body["status"]) == (f"urn:dsp-mesh:problem:{kind}", status)
    assert body["title"] and body["detail"] and body["reason"]
    if reason is not None:
        assert body["reason"] == reason
    assert reply.headers["x-frame-options"] == "DENY"  # the edge's headers on every answer, errors too
    return body


async def test_an_unknown_route_and_a_wrong_method_are_problems(gateway: httpx.AsyncClient) -> None:
    assert_problem(await gateway.get("/v1/nothing-here"), 404, "not-found", "no such route")
    wrong = await gateway.delete("/v1/me/documents")
    assert_problem(wrong, 405, "method-not-allowed", "this route does not take that method")
    assert "GET" in wrong.headers["allow"]  # (starlette names the first route of the path that matched)


async def test_a_validation_error_is_a_problem_that_never_echoes_the_input(gateway: httpx.AsyncClient) -> None:
    body = assert_problem(await gateway.post("/v1/password/forgot", json={
        "matricule": "1234567890123", "captcha_id": "<script>alert(1)</script>" * 3}), 422, "invalid-request",
        "invalid request")
    assert {tuple(e["loc"]) for e in body["errors"]} == {("body", "matricule"), ("body", "captcha_id")}
    assert all(set(e) == {"loc", "msg"} for e in body["errors"])
    text = str(body)
    assert "1234567890123" not in text and "script" not in text
    not_json = await gateway.post("/v1/password/forgot", content=b"{nope", headers={"content-type": "application/json"})
    assert_problem(not_json, 422, "invalid-request")


async def test_a_host_not_served_is_a_problem(gateway: httpx.AsyncClient) -> None:
    assert_problem(await gateway.get("/v1/me/documents", headers={"host": "evil.example"}), 400, "invalid-host",
                   "this Host is not served here")
    assert (await gateway.get("/openapi.json")).status_code == 200  # an allowed Host passes untouched


async def test_unreachable_rate_limit_counters_are_a_503_problem(gateway: httpx.AsyncClient) -> None:
    reply = await gateway.post("/v1/login", json={"matricule": "1893120105732", "password": "x"})
    assert_problem(reply, 503, "unavailable", problems.UNAVAILABLE)  # MongoDB at :9 does not answer


async def test_a_bug_is_a_500_problem_without_the_exception() -> None:
    app = FastAPI()
    problems.install(app)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        reply = await client.get("/boom")
    assert (reply.status_code, reply.headers["content-type"]) == (500, PROBLEM)
    assert reply.json()["type"] == "urn:dsp-mesh:problem:server-error" and "secret" not in reply.text


def test_field_errors_never_carry_what_was_sent() -> None:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(PatientAccessCommand).validate_python({"command": "end-grant-<b>x</b>"})
    (error,) = problems.field_errors(caught.value.errors(include_input=True))
    assert "<b>" not in error["msg"] and "add-to-circle" in error["msg"]
    fake = [{"type": "value_error", "loc": ("body", "x"), "msg": "bad value 'hunter2'", "input": "hunter2"}]
    assert problems.field_errors(fake) == [{"loc": ["body", "x"], "msg": "invalid value (value_error)"}]


def test_a_problem_leaves_absent_members_out() -> None:
    refused = problem(400, "this password is too common", next_step="set-password", details={"tries_left": "2"})
    assert refused.model_dump(mode="json", exclude_none=True) == {
        "type": "urn:dsp-mesh:problem:refused", "title": "Refused", "status": 400,
        "detail": "this password is too common", "reason": "this password is too common",
        "next_step": "set-password", "details": {"tries_left": "2"}}
    assert problem(409, "taken").type == "urn:dsp-mesh:problem:conflict"  # a status without a kind of its own


# ---- the OpenAPI document ------------------------------------------------------------------------------------


@pytest.fixture
async def openapi(gateway: httpx.AsyncClient) -> dict[str, Any]:
    document: dict[str, Any] = (await gateway.get("/openapi.json")).json()
    return document


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def test_every_route_documents_what_it_answers(openapi: dict[str, Any]) -> None:
    found = operations(openapi)
    assert len(found) >= 25
    for method, path, op in found:
        statuses = op["responses"]
        assert "default" not in statuses, (method, path)  # each status named: schemathesis checks them
        (success,) = [s for s in statuses if s.startswith("2")]
        content = statuses[success]["content"]
        for media_type, entry in content.items():
            assert entry["schema"] not in ({}, None), (method, path, media_type)  # a model, never "any"
        errors = [s for s in statuses if s[0] in "45"]
        assert {"400", "413", "503"} <= set(errors), (method, path)
        for status in errors:
            assert statuses[status]["content"] == {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        if "429" in statuses:
            assert statuses["429"]["headers"]["Retry-After"]["required"] is True
    schemas = openapi["components"]["schemas"]
    assert "Problem" in schemas and "HTTPValidationError" not in schemas
    files = [path for _, path, op in found if "application/pdf" in op["responses"].get("200", {}).get("content", {})]
    assert sorted(files) == ["/v1/me/documents/{document_id}/file", "/v1/pro/documents/file"]


def test_access_commands_are_a_discriminated_union_of_the_patients_commands(openapi: dict[str, Any]) -> None:
    body = openapi["paths"]["/v1/me/access/commands"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["discriminator"]["propertyName"] == "command"
    assert set(body["discriminator"]["mapping"]) == set(PATIENT_COMMANDS)
    schemas = openapi["components"]["schemas"]
    members = [schemas[ref["$ref"].rsplit("/", 1)[1]] for ref in body["oneOf"]]
    assert len(members) >= 5
    for member in members:
        assert not {"command_id", "patient", "actor"} & set(member["properties"])  # the gateway sets them
        assert member["additionalProperties"] is False
    internal = {"end-grant", "set-document-visibility", "redeem-presence-password", "break-the-glass",
                "generate-presence-password"}
    assert not internal & set(body["discriminator"]["mapping"])


def test_every_patient_command_exists_in_access_contract() -> None:
    names = {n for model in typing.get_args(access.AnyCommand)
             for n in typing.get_args(model.model_fields["command"].annotation)}
    assert set(PATIENT_COMMANDS) <= names  # the allow-list names commands access knows


def test_dates_the_gateway_answers_are_rfc3339_utc_z() -> None:
    ends = datetime(2026, 11, 22, 8, 57, 31, 154000, tzinfo=timezone(timedelta(hours=1)))
    assert ProLogin(professional_id="DR-1", session_s=1800, session_ends_at=ends).model_dump(mode="json")[
        "session_ends_at"] == "2026-11-22T07:57:31.154Z"
    state = AccessState.model_validate({  # access's answer, its dates read back as the portal sends them
        "patient": "1893120105732", "version": 3, "referring_gp": None, "blocked_professionals": [],
        "blocked_documents": [], "assistants": [], "emergency_refused": False, "presence_password": False,
        "grants": [{"kind": "trusted-circle", "professional_id": "DR-1", "name": "Luc Kremer", "profession": "Médecin",
                    "specialty": None, "granted_at": "2026-11-22T08:57:31.154+01:00", "ends_at": None}],
        "consents": [{"consent": "organ-donation", "value": True, "at": "2026-11-22T07:57:31+00:00", "by": "x"}],
    }).model_dump(mode="json")
    assert state["grants"][0]["granted_at"] == "2026-11-22T07:57:31.154Z"
    assert state["consents"][0]["at"] == "2026-11-22T07:57:31.000Z"
    entry = AuditEntry(at=datetime(2026, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1))),
                       who={"kind": "professional", "id": "DR-1", "name": "Luc Kremer"}, action="read",
                       document_id="d1", document_title="Hémogramme", allowed=True, reason="trusted-circle",
                       justification=None)
    page = AuditPage(items=[entry], next_cursor=None).model_dump(mode="json")
    assert page["items"][0]["at"] == "2026-01-02T03:04:05.000Z" and "seq" not in page["items"][0]
    logged = StepResult(reason="logged in", details={"session_expires_at": "2026-11-22T08:57:31.154321+01:00",
                                                     "address": "a***@example.lu"})
    assert logged.details == {"session_expires_at": "2026-11-22T07:57:31.154Z", "address": "a***@example.lu"}


# ---- the calls to the services' internal read APIs --------------------------------------------------------------


async def test_a_service_answer_becomes_the_portals_or_a_problem() -> None:
    """records', notify's and access's answers: 200 passed on, an explained refusal kept with its reason (a 422's
    fields located where the client sent them), anything else a 503; None members are not sent."""
    seen: list[dict[str, Any]] = []

    def service(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        answers = {"/ok": (200, {"items": [], "next_cursor": None}), "/gone": (404, {"detail": "no such document"}),
                   "/bad": (422, {"detail": "invalid request", "errors": [{"loc": ["cursor"], "msg": "not ours"}]}),
                   "/down": (500, {"detail": "boom"}), "/denied": (403, {"detail": "not yours"})}
        status, answer = answers[request.url.path]
        return httpx.Response(status, json=answer)

    async with httpx.AsyncClient(transport=httpx.MockTransport(service), base_url="http://records") as client:
        assert await calls.read(client, "records", "/ok", {"patient": "x", "cursor": None}) == {
            "items": [], "next_cursor": None}
        assert seen[-1] == {"patient": "x"}
        with pytest.raises(problems.Refusal) as gone:
            await calls.read(client, "records", "/gone", {})
        assert (gone.value.problem.status, gone.value.problem.reason) == (404, "no such document")
        with pytest.raises(problems.Refusal) as bad:
            await calls.read(client, "records", "/bad", {}, where="body")
        assert bad.value.problem.errors is not None
        assert [e.loc for e in bad.value.problem.errors] == [["body", "cursor"]]
        for path, keep in (("/down", (403, 404, 422)), ("/denied", (404, 422))):
            with pytest.raises(problems.Refusal) as down:
                await calls.read(client, "records", path, {}, keep=keep)
            assert (down.value.problem.status, down.value.problem.reason) == (503, "records unavailable; try again")


def test_a_command_outcome_is_one_of_the_documented_states() -> None:
    assert {s.value for s in CommandState} == set(typing.get_args(
        CommandStatus.model_fields["status"].annotation))  # every status records answers has a portal name
    with pytest.raises(ValidationError):
        MarkRead.model_validate({})  # ids or all
    assert MarkRead.model_validate({"all": True}).all is True
