"""access's audit routes for the portal (behind the door; the gateway calls them): `POST /v1/audit/export` (a
patient's trail signed by access) and `POST /v1/audit/keys` (the JWKS that checks it). The use case:
`service/audit_export.py`."""

from __future__ import annotations

from typing import Any

from schemas.access import PatientQuery
from services.kit.http import Door

from ..service.answers import Answer
from ..service.audit_export import AuditExport

GATEWAY = ("gateway",)


def routes(door: Door, exports: AuditExport) -> list[tuple[str, Any]]:
    async def export(raw: bytes) -> Answer:
        return await exports.export(PatientQuery.model_validate_json(raw))

    async def keys(raw: bytes) -> Answer:
        return 200, exports.keys()

    return [("/v1/audit/export", door.endpoint(export, GATEWAY)),
            ("/v1/audit/keys", door.endpoint(keys, GATEWAY))]
