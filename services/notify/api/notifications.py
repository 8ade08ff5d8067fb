"""The gateway's routes: a person's notification list with its unread count, and marking notices read (the use
case `service/inbox.py`). A cursor this API did not give out is a 422."""

from __future__ import annotations

from typing import Any

from schemas.notify import MarkReadRequest, NotificationListQuery
from services.kit.http import Door
from services.kit.paging import BadCursor

from ..service.inbox import Inbox

GATEWAY = ("gateway",)


def routes(door: Door, inbox: Inbox) -> list[tuple[str, Any]]:
    async def notifications(raw: bytes) -> tuple[int, Any]:
        try:
            page = await inbox.page(NotificationListQuery.model_validate_json(raw))
        except BadCursor as exc:
            return 422, {"detail": str(exc)}
        return 200, page.model_dump(mode="json")

    async def mark_read(raw: bytes) -> tuple[int, Any]:
        return 200, (await inbox.mark_read(MarkReadRequest.model_validate_json(raw))).model_dump()

    return [("/v1/notifications/list", door.endpoint(notifications, GATEWAY)),
            ("/v1/notifications/read", door.endpoint(mark_read, GATEWAY))]
