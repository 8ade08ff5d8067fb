"""The DSPs one assists ('Accéder aux autres dossiers patient') and the assistant lookup (who a matricule is,
before adding them as DSP assistant with the `add-assistant` access command)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from schemas.access import AssistedQuery
from schemas.portal_access import AssistedPage, Person, PersonLookup

from ..calls import query
from ..context import ActingFor, Cursor, ctx
from ..problems import errors
from ..service import assistants

router = APIRouter(prefix="/v1", tags=["patient"], responses=errors(400, 401, 403, 413, 422, 429, 503))


@router.get("/me/assisted", summary="The DSPs I assist, named ('Accéder aux autres dossiers patient')",
            response_model=AssistedPage)
async def assisted(request: Request, who: ActingFor, cursor: Cursor = None,
                   limit: Annotated[int, Query(ge=1, le=100)] = 50) -> AssistedPage:
    """The person logged in's (whatever X-DSP-Patient says): send one's `patient` as X-DSP-Patient to act on it."""
    return await ctx(request).clients.access.assisted(query(AssistedQuery, user=who.user, cursor=cursor,
                                                            limit=limit))


@router.post("/me/assistants/lookup", summary="Who a matricule is, before adding them as DSP assistant",
             response_model=Person, responses=errors(404))
async def lookup(body: PersonLookup, request: Request, who: ActingFor) -> Person:
    """'Numéro assuré' → the person's name → confirm with the `add-assistant` access command. Only a registered
    adult is found (anyone else: the same 404); lookups are limited per person."""
    return await assistants.lookup(ctx(request), who.user, body.matricule)
