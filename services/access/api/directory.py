"""access's directory routes (behind the door; the gateway calls them): `POST /v1/professionals/search`,
`/v1/professionals/get`, `/v1/persons/lookup`. The use cases: `service/directory.py`."""

from __future__ import annotations

from typing import Any

from schemas.access import PersonLookup, ProfessionalGet, ProfessionalSearch
from services.kit.http import Door

from ..service.answers import Answer
from ..service.directory import Directory

GATEWAY = ("gateway",)


def routes(door: Door, found: Directory) -> list[tuple[str, Any]]:
    async def search(raw: bytes) -> Answer:
        return await found.search(ProfessionalSearch.model_validate_json(raw))

    async def get(raw: bytes) -> Answer:
        return await found.get(ProfessionalGet.model_validate_json(raw))

    async def lookup(raw: bytes) -> Answer:
        return await found.lookup(PersonLookup.model_validate_json(raw))

    return [("/v1/professionals/search", door.endpoint(search, GATEWAY)),
            ("/v1/professionals/get", door.endpoint(get, GATEWAY)),
            ("/v1/persons/lookup", door.endpoint(lookup, GATEWAY))]
