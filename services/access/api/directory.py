"""access's directory routes (behind the door; the gateway calls them): `POST /v1/professionals/search`,
`/v1/professionals/get`, `/v1/persons/lookup`. The use cases: `service/directory.py`."""

from __future__ import annotations

from typing import Any

from schemas.access import PersonLookup, ProfessionalGet, ProfessionalSearch
from services.kit.http import Door

from ..service.directory import Directory
from .route import gateway_route


def routes(door: Door, found: Directory) -> list[tuple[str, Any]]:
    return [gateway_route(door, "/v1/professionals/search", ProfessionalSearch, found.search),
            gateway_route(door, "/v1/professionals/get", ProfessionalGet, found.get),
            gateway_route(door, "/v1/persons/lookup", PersonLookup, found.lookup)]
