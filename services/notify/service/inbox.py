"""The use case "a person's notification list" (for the gateway): one page newest first with the unread count
(`domain.listing`: its order and cursor), and marking notices read. The recipient is the caller's filter on every
page and every mark; another person's notices are never touched."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from schemas.notify import MarkReadRequest, MarkReadResultV1, NotificationListQuery, NotificationPageV1

from ..domain.listing import cursor_after, notification, position
from ..store.protocol import Store


class Inbox:
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store, self.clock = store, clock

    async def page(self, query: NotificationListQuery) -> NotificationPageV1:
        """One page after the query's cursor; `BadCursor` for a cursor this API did not give out."""
        after = position(query.cursor) if query.cursor is not None else None
        found = await self.store.page(query.recipient, query.unread_only, after, query.limit + 1)
        items = found[: query.limit]
        return NotificationPageV1(items=[notification(n) for n in items],
                                  next_cursor=cursor_after(items[-1]) if len(found) > query.limit else None,
                                  unread=await self.store.unread(query.recipient))

    async def mark_read(self, request: MarkReadRequest) -> MarkReadResultV1:
        ids = None if request.all else request.ids or []
        updated = await self.store.mark_read(request.recipient, ids, self.clock())
        return MarkReadResultV1(updated=updated, unread=await self.store.unread(request.recipient))
