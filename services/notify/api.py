"""notify's internal read API (on the worker's own port, behind the door): a person's notification list with
its unread count, marking notices read — for the gateway — and the counts the operations console shows.

A list is newest first (delivered at, then id) and pages with a keyset cursor on that order: a notice that
arrives between two pages goes to the top, never into a gap or twice. The recipient is the caller's filter on
every page; a cursor only says where the previous page ended (a forged one is a 422)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.notify import (
    MarkReadRequest,
    MarkReadResultV1,
    NotificationListQuery,
    NotificationPageV1,
    NotificationV1,
    NotifyStatsV1,
    StatsQuery,
)
from services.kit.http import Door
from services.kit.paging import BadCursor, decode_cursor, encode_cursor

from .store import NotifyStore, aware

EPOCH, MS = datetime(1970, 1, 1, tzinfo=UTC), timedelta(milliseconds=1)


def cursor_after(notice: dict[str, Any]) -> str:
    """The cursor after this notice: its position (delivered at, in whole milliseconds as stored, and id)."""
    return encode_cursor((aware(notice["received_at"]) - EPOCH) // MS, notice["_id"])


def position(cursor: str) -> tuple[datetime, str]:
    """The position a cursor of `cursor_after` holds; BadCursor for anything else."""
    millis, last = decode_cursor(cursor, 2)
    if not isinstance(millis, int) or isinstance(millis, bool) or not isinstance(last, str):
        raise BadCursor("cursor is not one this API gave out")
    try:
        return EPOCH + millis * MS, last
    except OverflowError:
        raise BadCursor("cursor is not one this API gave out") from None


def notification(n: dict[str, Any]) -> NotificationV1:
    return NotificationV1(id=n["_id"], template=n.get("template_id") or "", subject=n.get("subject") or "",
                          body=n.get("body") or "", at=aware(n["received_at"]), read=bool(n.get("read", False)))


class NotifyApi:
    def __init__(self, store: NotifyStore, clock: Callable[[], datetime]) -> None:
        self.store, self.clock = store, clock

    def routes(self, door: Door) -> list[tuple[str, Any]]:
        gateway, console = ("gateway",), ("console",)
        return [("/v1/notifications/list", door.endpoint(self.notifications, gateway)),
                ("/v1/notifications/read", door.endpoint(self.mark_read, gateway)),
                ("/v1/stats", door.endpoint(self.stats, console))]

    async def notifications(self, raw: bytes) -> tuple[int, Any]:
        body = NotificationListQuery.model_validate_json(raw)
        try:
            after = position(body.cursor) if body.cursor is not None else None
        except BadCursor as exc:
            return 422, {"detail": str(exc)}
        found = await self.store.page(body.recipient, body.unread_only, after, body.limit + 1)
        items = found[: body.limit]
        page = NotificationPageV1(items=[notification(n) for n in items],
                                  next_cursor=cursor_after(items[-1]) if len(found) > body.limit else None,
                                  unread=await self.store.unread(body.recipient))
        return 200, page.model_dump(mode="json")

    async def mark_read(self, raw: bytes) -> tuple[int, Any]:
        body = MarkReadRequest.model_validate_json(raw)
        updated = await self.store.mark_read(body.recipient, None if body.all else body.ids or [], self.clock())
        return 200, MarkReadResultV1(updated=updated, unread=await self.store.unread(body.recipient)).model_dump()

    async def stats(self, raw: bytes) -> tuple[int, Any]:
        StatsQuery.model_validate_json(raw)
        return 200, NotifyStatsV1.model_validate(await self.store.counts()).model_dump(mode="json")
