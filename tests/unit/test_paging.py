"""Cursors and the one date-time format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from schemas.fields import UtcDateTime, rfc3339
from services.kit.paging import BadCursor, decode_cursor, encode_cursor


@given(st.text(max_size=40), st.integers(), st.none() | st.text(max_size=10))
def test_a_cursor_gives_back_its_key(a: str, b: int, c: str | None) -> None:
    assert decode_cursor(encode_cursor(a, b, c), 3) == [a, b, c]


@pytest.mark.parametrize("bad", ["!!!", "e30", encode_cursor(1), "x" * 600, "bm90IGpzb24"])
def test_a_forged_cursor_is_refused(bad: str) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(bad, 2)


def test_date_times_are_rfc3339_utc_with_z() -> None:
    class M(BaseModel):
        at: UtcDateTime

    paris = datetime(2026, 11, 22, 8, 57, 31, 154000, tzinfo=timezone(timedelta(hours=1)))
    assert M(at=paris).model_dump_json() == '{"at":"2026-11-22T07:57:31.154Z"}'
    assert rfc3339(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000Z"  # naive = UTC as stored
    assert rfc3339(datetime(2026, 1, 2, tzinfo=UTC)) == "2026-01-02T00:00:00.000Z"
