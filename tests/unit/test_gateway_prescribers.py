"""A document's prescriber named in the portal API's answers (issue 27): by the directory of professionals (access's
`/v1/professionals/get`), the id kept; no name for an id the directory does not list, nor when access does not
answer (the document is still served)."""

from __future__ import annotations

import json

import httpx

from schemas.records_api import DocumentDetail as RecordsDetail
from services.gateway.clients import AccessClient
from services.gateway.service.naming import Names, named

DIRECTORY = {"PRO-1000": "Luc Kremer"}


def _access(request: httpx.Request) -> httpx.Response:
    assert request.url.path == "/v1/professionals/get"
    pro = json.loads(request.content)["professional_id"]
    if pro == "PRO-DOWN":
        return httpx.Response(503, json={"detail": "unavailable"})
    name = DIRECTORY.get(pro)
    return httpx.Response(200, json={"professional_id": pro, "listed": name is not None, "active": name is not None,
                                     "name": name, "profession": None, "specialty": None})


def _access_client() -> AccessClient:
    return AccessClient(httpx.AsyncClient(transport=httpx.MockTransport(_access), base_url="http://access"))


DETAIL = {"id": "d1", "document_type": "lab-result", "title": "Hémogramme", "author": "LAB-1",
          "laboratory_name": "Laboratoire Un", "document_date": "2026-10-05T08:00:00Z",
          "reported_at": "2026-10-05T12:00:00Z", "status": "active", "blocked": False, "version_count": 1,
          "has_file": False, "laboratory_id": "LAB-1", "observations": [], "versions": [], "file": None}


async def test_the_prescriber_is_named_as_the_directory_lists_them() -> None:
    found = await named(_access_client(), RecordsDetail.model_validate({**DETAIL, "prescriber_id": "PRO-1000"}))
    assert found.prescriber_name == "Luc Kremer" and found.prescriber_id == "PRO-1000"  # what the API answers


async def test_an_unlisted_prescriber_an_unanswering_directory_and_no_prescriber_leave_the_name_out() -> None:
    for prescriber in ("PRO-UNKNOWN", "PRO-DOWN", None):
        found = await named(_access_client(), RecordsDetail.model_validate({**DETAIL, "prescriber_id": prescriber}))
        assert found.prescriber_name is None and found.prescriber_id == prescriber


async def test_a_name_is_remembered_five_minutes_and_an_unanswering_directory_is_asked_again() -> None:
    asked: list[str] = []

    def access(request: httpx.Request) -> httpx.Response:
        asked.append(json.loads(request.content)["professional_id"])
        return _access(request)

    client = AccessClient(httpx.AsyncClient(transport=httpx.MockTransport(access), base_url="http://access"))
    remembered: Names = {}
    clock = [100.0]

    def detail(prescriber: str) -> RecordsDetail:
        return RecordsDetail.model_validate({**DETAIL, "prescriber_id": prescriber})

    for _ in range(3):
        found = await named(client, detail("PRO-1000"), remembered, now=lambda: clock[0])
        assert found.prescriber_name == "Luc Kremer"
    assert asked == ["PRO-1000"]
    clock[0] += 301
    await named(client, detail("PRO-1000"), remembered, now=lambda: clock[0])
    assert asked == ["PRO-1000"] * 2  # forgotten after five minutes: a directory change shows
    for _ in range(2):
        assert (await named(client, detail("PRO-DOWN"), remembered)).prescriber_name is None
    assert asked[-2:] == ["PRO-DOWN", "PRO-DOWN"]  # no answer is not remembered
