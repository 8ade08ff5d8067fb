"""access's read routes for the portal (behind the door; the gateway calls them): `POST /v1/access-state`,
`/v1/audit`, `/v1/patients-of`, `/v1/assisted`. The use cases: `service/reads.py`."""

from __future__ import annotations

from typing import Any

from schemas.access import AssistedQuery, PatientQuery, ProfessionalQuery
from services.kit.http import Door

from ..service.reads import AccessReads
from .route import gateway_route


def routes(door: Door, reads: AccessReads) -> list[tuple[str, Any]]:
    return [gateway_route(door, "/v1/access-state", PatientQuery, reads.access_state),
            gateway_route(door, "/v1/audit", PatientQuery, reads.audit_trail),
            gateway_route(door, "/v1/patients-of", ProfessionalQuery, reads.patients_of),
            gateway_route(door, "/v1/assisted", AssistedQuery, reads.assisted)]
