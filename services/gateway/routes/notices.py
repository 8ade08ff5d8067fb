"""The patient's notifications (notify's read API: cursor pages with the unread count, marking notices read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from schemas.notify import MarkReadRequest, NotificationListQuery
from schemas.portal_documents import MarkRead, MarkReadResult, NotificationPage

from ..calls import query
from ..context import ActingFor, Cursor, ctx
from ..problems import errors

router = APIRouter(prefix="/v1/me", tags=["patient"], responses=errors(400, 401, 403, 413, 422, 429, 503))


@router.get("/notifications", summary="The notification list, newest first, with the unread count (cursor pages)",
            response_model=NotificationPage)
async def notifications(request: Request, who: ActingFor, cursor: Cursor = None,
                        limit: Annotated[int, Query(ge=1, le=200)] = 50,
                        unread_only: bool = False) -> NotificationPage:
    return await ctx(request).clients.notify.notifications(query(
        NotificationListQuery, recipient=who.patient, cursor=cursor, limit=limit, unread_only=unread_only))


@router.post("/notifications/read", summary="Mark notices read (some, or all)", response_model=MarkReadResult)
async def mark_read(body: MarkRead, request: Request, who: ActingFor) -> MarkReadResult:
    return await ctx(request).clients.notify.mark_read(query(
        MarkReadRequest, "body", recipient=who.patient, ids=body.ids, all=bool(body.all)))
