"""Cursor paging shared by every list: an opaque cursor is the last item's sort key, base64url JSON.

A list answers `{"items": [...], "next_cursor": str | None}`; the client sends `next_cursor` back as `cursor`
to get the next page. The cursor carries only a position (the owner's filter is applied again on every page), so
a forged cursor can skip but never widen what a caller may see; a malformed one is a 422.
"""

from __future__ import annotations

import base64
import json
from typing import Any

MAX_CURSOR = 512


class BadCursor(ValueError):
    """The cursor is not one this API gave out."""


def encode_cursor(*key: Any) -> str:
    """The cursor after an item whose sort key is `key` (JSON values: str, int, float, None)."""
    raw = json.dumps(list(key), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    """The sort key inside `cursor`, which must hold `arity` values; BadCursor otherwise."""
    if len(cursor) > MAX_CURSOR:
        raise BadCursor("cursor too long")
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise BadCursor("cursor is not one this API gave out") from None
    if not isinstance(key, list) or len(key) != arity:
        raise BadCursor("cursor is not one this API gave out")
    return key
