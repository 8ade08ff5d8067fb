"""A document's prescriber named in the portal API's answers (issue 27): by the directory of professionals (access's
`/v1/professionals/get`), the id kept; no name for an id the directory does not list, nor when access does not
answer (the document is still served)."""

from __future__ import annotations

import json
from typing import Any, cast

import httpx

from schemas.portal_documents import DocumentDetail
from services.gateway.context import Context
from services.gateway.prescribers import named

DIRECTORY = {"PRO-1000": "Luc Kremer"}


def _access(request: httpx.Request) -> httpx.Response:
    assert request.url.path == "/v1/professionals/get"
    pro = json.loads(request.content)["professional_id"]
    if pro == "PRO-DOWN":
        return httpx.Response(503, json={"detail": "unavailable"})
    name = DIRECTORY.get(pro)
    return httpx.Response(200, json={"professional_id": pro, "listed": name is not None, "active": name is not None,
                                     "name": name, "profession": None, "specialty": None})


def _context() -> Context:
    access = httpx.AsyncClient(transport=httpx.MockTransport(_access), base_url="http://access")
    return Context(bus=cast(Any, None), activation=access, access=access, records=access, notify=access, secure=False)


DETAIL = {"id": "d1", "document_type": "lab-result", "title": "Hémogramme", "author": "LAB-1",
          "laboratory_name": "Laboratoire Un", "document_date": "2026-10-05T08:00:00Z",
          "reported_at": "2026-10-05T12:00:00Z", "status": "active", "blocked": False, "version_count": 1,
          "has_file": False, "laboratory_id": "LAB-1", "observations": [], "versions": [], "file": None}


async def test_the_prescriber_is_named_as_the_directory_lists_them() -> None:
    found = await named(_context(), {**DETAIL, "prescriber_id": "PRO-1000"})
    assert found["prescriber_name"] == "Luc Kremer" and found["prescriber_id"] == "PRO-1000"
    assert DocumentDetail.model_validate(found).prescriber_name == "Luc Kremer"  # what the API answers


async def test_an_unlisted_prescriber_an_unanswering_directory_and_no_prescriber_leave_the_name_out() -> None:
    for prescriber in ("PRO-UNKNOWN", "PRO-DOWN", None):
        found = await named(_context(), {**DETAIL, "prescriber_id": prescriber})
        assert found["prescriber_name"] is None and found["prescriber_id"] == prescriber
        assert DocumentDetail.model_validate(found).prescriber_name is None


async def test_a_name_is_remembered_five_minutes_and_an_unanswering_directory_is_asked_again() -> None:
    asked: list[str] = []

    def access(request: httpx.Request) -> httpx.Response:
        asked.append(json.loads(request.content)["professional_id"])
        return _access(request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(access), base_url="http://access")
    c = Context(bus=cast(Any, None), activation=client, access=client, records=client, notify=client, secure=False)
    clock = [100.0]
    for _ in range(3):
        found = await named(c, {**DETAIL, "prescriber_id": "PRO-1000"}, now=lambda: clock[0])
        assert found["prescriber_name"] == "Luc Kremer"
    assert asked == ["PRO-1000"]
    clock[0] += 301
    await named(c, {**DETAIL, "prescriber_id": "PRO-1000"}, now=lambda: clock[0])
    assert asked == ["PRO-1000"] * 2  # forgotten after five minutes: a directory change shows
    for _ in range(2):
        assert (await named(c, {**DETAIL, "prescriber_id": "PRO-DOWN"}))["prescriber_name"] is None
    assert asked[-2:] == ["PRO-DOWN", "PRO-DOWN"]  # no answer is not remembered
