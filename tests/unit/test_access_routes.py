"""access's gateway routes (`api/reads.py`, `api/directory.py`, over `api/route.py`): each path decodes its own
request contract and calls its own use case, for the gateway only; a body that breaks the contract reaches no use
case (the door answers 422)."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from services.access.api import directory, reads
from tests.support import make_matricule

PATIENT = make_matricule(date(1980, 5, 17), 11)


class RecordingDoor:
    def __init__(self) -> None:
        self.callers: dict[Any, tuple[str, ...]] = {}

    def endpoint(self, handler: Any, callers: tuple[str, ...]) -> Any:
        self.callers[handler] = callers
        return handler


class UseCases:
    """Every use case a route may call: it answers with its own name and the request it was given."""

    def __getattr__(self, name: str) -> Any:
        async def use_case(request: BaseModel) -> tuple[int, Any]:
            return 200, (name, request)
        return use_case


def call(routes: list[tuple[str, Any]], path: str, body: dict[str, Any]) -> tuple[str, BaseModel]:
    handler = dict(routes)[path]
    status, (name, request) = asyncio.run(handler(json.dumps(body).encode()))
    assert status == 200
    return name, request


ACTOR = {"kind": "patient", "id": PATIENT}


@pytest.mark.parametrize(("path", "body", "use_case", "contract"), [
    ("/v1/access-state", {"actor": ACTOR, "patient": PATIENT}, "access_state", "PatientQuery"),
    ("/v1/audit", {"actor": ACTOR, "patient": PATIENT, "limit": 5}, "audit_trail", "PatientQuery"),
    ("/v1/patients-of", {"professional_id": "DR-1"}, "patients_of", "ProfessionalQuery"),
    ("/v1/assisted", {"user": PATIENT}, "assisted", "AssistedQuery"),
])
def test_each_read_route_decodes_its_contract_for_its_use_case(path: str, body: dict[str, Any], use_case: str,
                                                                contract: str) -> None:
    door = RecordingDoor()
    routes = reads.routes(door, UseCases())  # type: ignore[arg-type]
    assert [p for p, _ in routes] == ["/v1/access-state", "/v1/audit", "/v1/patients-of", "/v1/assisted"]
    name, request = call(routes, path, body)
    assert (name, type(request).__name__) == (use_case, contract)
    assert set(door.callers.values()) == {("gateway",)}


@pytest.mark.parametrize(("path", "body", "use_case", "contract"), [
    ("/v1/professionals/search", {"q": "Ro"}, "search", "ProfessionalSearch"),
    ("/v1/professionals/get", {"professional_id": "DR-1"}, "get", "ProfessionalGet"),
    ("/v1/persons/lookup", {"actor": ACTOR, "matricule": PATIENT}, "lookup", "PersonLookup"),
])
def test_each_directory_route_decodes_its_contract_for_its_use_case(path: str, body: dict[str, Any],
                                                                     use_case: str, contract: str) -> None:
    door = RecordingDoor()
    routes = directory.routes(door, UseCases())  # type: ignore[arg-type]
    name, request = call(routes, path, body)
    assert (name, type(request).__name__) == (use_case, contract)
    assert set(door.callers.values()) == {("gateway",)}


def test_a_body_that_breaks_the_contract_reaches_no_use_case() -> None:
    routes = dict(reads.routes(RecordingDoor(), UseCases()))  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        asyncio.run(routes["/v1/patients-of"](json.dumps({"professional_id": "DR-1", "extra": 1}).encode()))
