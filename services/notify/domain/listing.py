"""The notification list's order and cursor, and a stored notice as the list shows it. Pure.

A list is newest first (delivered at, then id) and pages with a keyset cursor on that order: a notice that
arrives between two pages goes to the top, never into a gap or twice. The recipient is the caller's filter on
every page; a cursor only says where the previous page ended (a forged one is `BadCursor`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.notify import NotificationV1
from services.kit.paging import BadCursor, decode_cursor, encode_cursor

EPOCH, MS = datetime(1970, 1, 1, tzinfo=UTC), timedelta(milliseconds=1)


def aware(at: datetime) -> datetime:
    """A stored time as UTC (a client without tz_aware reads naive UTC)."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def cursor_after(notice: Mapping[str, Any]) -> str:
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


def notification(n: Mapping[str, Any]) -> NotificationV1:
    return NotificationV1(id=n["_id"], template=n.get("template_id") or "", subject=n.get("subject") or "",
                          body=n.get("body") or "", at=aware(n["received_at"]), read=bool(n.get("read", False)))
