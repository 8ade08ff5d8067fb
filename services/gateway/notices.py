"""The patient's notifications (notify's read API: cursor pages with the unread count, marking notices read) and
the professional directory search (access's), to add a professional to the trusted circle."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from schemas.portal_access import ProfessionalPage
from schemas.portal_documents import MarkRead, MarkReadResult, NotificationPage

from .calls import read
from .context import ActingFor, Cursor, Session, ctx, me
from .problems import errors

router = APIRouter(prefix="/v1/me", tags=["patient"], responses=errors(400, 401, 403, 413, 422, 429, 503))


@router.get("/notifications", summary="The notification list, newest first, with the unread count (cursor pages)",
            response_model=NotificationPage)
async def notifications(request: Request, who: ActingFor, cursor: Cursor = None,
                        limit: Annotated[int, Query(ge=1, le=200)] = 50, unread_only: bool = False) -> Any:
    return await read(ctx(request).notify, "notify", "/v1/notifications/list", {
        "recipient": who.patient, "cursor": cursor, "limit": limit, "unread_only": unread_only}, keep=(422,))


@router.post("/notifications/read", summary="Mark notices read (some, or all)", response_model=MarkReadResult)
async def mark_read(body: MarkRead, request: Request, who: ActingFor) -> Any:
    return await read(ctx(request).notify, "notify", "/v1/notifications/read", {
        "recipient": who.patient, "ids": body.ids, "all": body.all or None}, keep=(422,), where="body")


search_router = APIRouter(prefix="/v1", tags=["patient"], responses=errors(400, 401, 413, 422, 429, 503))


@search_router.get("/professionals", summary="Find a professional to add to the trusted circle (name prefix)",
                   response_model=ProfessionalPage)
async def professionals(request: Request, q: Annotated[str, Query(min_length=2, max_length=60)],
                        cursor: Cursor = None, limit: Annotated[int, Query(ge=1, le=50)] = 20,
                        session: Session = None) -> Any:
    c = ctx(request)
    await me(c, session)
    return await read(c.access, "access", "/v1/professionals/search", {"q": q, "cursor": cursor, "limit": limit},
                      keep=(422,))
