"""The professional directory search (access's), to add a professional to the trusted circle."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from schemas.access import ProfessionalSearch
from schemas.portal_access import ProfessionalPage

from ..calls import query
from ..context import Cursor, Session, ctx, me
from ..problems import errors

router = APIRouter(prefix="/v1", tags=["patient"], responses=errors(400, 401, 413, 422, 429, 503))


@router.get("/professionals", summary="Find a professional to add to the trusted circle (name prefix)",
            response_model=ProfessionalPage)
async def professionals(request: Request, q: Annotated[str, Query(min_length=2, max_length=60)],
                        cursor: Cursor = None, limit: Annotated[int, Query(ge=1, le=50)] = 20,
                        session: Session = None) -> ProfessionalPage:
    c = ctx(request)
    await me(c, session)
    return await c.clients.access.search(query(ProfessionalSearch, q=q, cursor=cursor, limit=limit))
