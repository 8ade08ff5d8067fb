"""access's read routes for the portal (behind the door; the gateway calls them): `POST /v1/access-state`,
`/v1/audit`, `/v1/patients-of`, `/v1/assisted`. The use cases: `service/reads.py`."""

from __future__ import annotations

from typing import Any

from schemas.access import AssistedQuery, PatientQuery, ProfessionalQuery
from services.kit.http import Door

from ..service.answers import Answer
from ..service.reads import AccessReads

GATEWAY = ("gateway",)


def routes(door: Door, reads: AccessReads) -> list[tuple[str, Any]]:
    async def access_state(raw: bytes) -> Answer:
        return await reads.access_state(PatientQuery.model_validate_json(raw))

    async def audit_trail(raw: bytes) -> Answer:
        return await reads.audit_trail(PatientQuery.model_validate_json(raw))

    async def patients_of(raw: bytes) -> Answer:
        return await reads.patients_of(ProfessionalQuery.model_validate_json(raw))

    async def assisted(raw: bytes) -> Answer:
        return await reads.assisted(AssistedQuery.model_validate_json(raw))

    return [("/v1/access-state", door.endpoint(access_state, GATEWAY)),
            ("/v1/audit", door.endpoint(audit_trail, GATEWAY)),
            ("/v1/patients-of", door.endpoint(patients_of, GATEWAY)),
            ("/v1/assisted", door.endpoint(assisted, GATEWAY))]
