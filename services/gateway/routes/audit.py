"""The patient's audit trail ('Traçabilité', named, with the documents' titles), its signed download, and the
public key that checks it (anyone may fetch it)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from schemas.audit import AuditExportV1, Jwks
from schemas.portal_access import AuditPage

from ..context import ActingFor, Cursor, ctx
from ..problems import errors
from ..service import audit as trail
from ..service.audit import reader

router = APIRouter(prefix="/v1", tags=["patient"], responses=errors(400, 401, 403, 413, 422, 429, 503))


@router.get("/me/audit", summary="Who accessed what, and when ('Traçabilité', newest first, cursor-paged)",
            response_model=AuditPage)
async def audit(request: Request, who: ActingFor, cursor: Cursor = None,
                limit: Annotated[int, Query(ge=1, le=200)] = 50) -> AuditPage:
    return await trail.page(ctx(request), who, cursor, limit)


@router.get("/me/audit/export", summary="Download the whole audit trail, signed by access (a JSON file)",
            response_class=Response, responses={200: {
                "model": AuditExportV1, "description": "Every entry in order, the chain's head and access's latest "
                "checkpoint, signed by access (a detached JWS over the canonical JSON; check it with the key at "
                "/v1/audit/public-key, e.g. python -m services.access.verify_export), as a download"}})
async def audit_export(request: Request, who: ActingFor) -> Response:
    """'Télécharger mon journal signé': access's signed document, passed on as access made it."""
    signed = await ctx(request).clients.access.audit_export(reader(who))
    return Response(signed, media_type="application/json", headers={
        "Content-Disposition": 'attachment; filename="dsp-audit-trail.json"', "X-Content-Type-Options": "nosniff"})


public_router = APIRouter(prefix="/v1", tags=["audit"], responses=errors(400, 413, 429, 503))
KEYS_FOR_S = 300.0  # access's public key changes only with a new key: asked again every 5 minutes


@public_router.get("/audit/public-key", summary="The public key that checks access's signatures on audit trails "
                   "(a JWKS)", response_model=Jwks)
async def audit_public_key(request: Request) -> Jwks:
    """Anyone may fetch it (no session): what a patient, or anyone she gives her download to, checks it with."""
    cached: tuple[float, Jwks] | None = getattr(request.app.state, "audit_jwks", None)
    now = time.monotonic()
    if cached is None or now - cached[0] > KEYS_FOR_S:
        cached = (now, await ctx(request).clients.access.keys())
        request.app.state.audit_jwks = cached
    return cached[1]
