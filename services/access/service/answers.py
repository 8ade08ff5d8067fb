"""The shape of access's read answers (pure): a status and a JSON body, a page's cursor read back (a cursor this
API did not give out is a 422), and the keyset paging of a sorted list of keys."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pydantic import BaseModel

from services.kit.paging import BadCursor, decode_cursor

Answer = tuple[int, Any]
T = TypeVar("T")


def ok(model: BaseModel) -> Answer:
    return 200, model.model_dump(mode="json")


def bad_cursor(exc: BadCursor) -> Answer:
    return 422, {"detail": "invalid request", "errors": [{"loc": ["cursor"], "msg": str(exc)}]}


def seq_position(cursor: str) -> int:
    """The audit trail's position in `cursor` (the seq to page below); BadCursor for any other cursor."""
    tag, seq = decode_cursor(cursor, 2)
    if tag != "audit" or type(seq) is not int or seq < 1:
        raise BadCursor("cursor is not one this API gave out")
    return seq


def key_position(cursor: str | None, tag: str) -> str | None:
    """The last matricule of a page of list `tag` (None: the first page); BadCursor for any other cursor."""
    if cursor is None:
        return None
    found_tag, key = decode_cursor(cursor, 2)
    if found_tag != tag or type(key) is not str:
        raise BadCursor("cursor is not one this API gave out")
    return key


def keyset(keys: Iterable[str], after: str | None, limit: int,
            keep: Callable[[str], T | None]) -> tuple[list[T], bool]:
    """Up to `limit` items made by `keep` from the sorted `keys` after `after` (None: left out), and whether
    there are more (one more is looked for, never all of them)."""
    found: list[T] = []
    for key in sorted(k for k in keys if after is None or k > after):
        item = keep(key)
        if item is not None:
            found.append(item)
            if len(found) > limit:
                break
    return found[:limit], len(found) > limit
