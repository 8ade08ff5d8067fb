"""A patient's list from the index document (services.records.listing): filters, order, and pages that never
skip nor repeat a document, whatever the page size and however many documents share a date."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from services.records.domain.listing import Listing, entry

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def stored(doc_id: str, day: int, **fields: Any) -> dict[str, Any]:
    return {"_id": doc_id, "document_type": "lab-result", "title": "Bilan", "author": "LAB", "status": "active",
            "document_date": T0 + timedelta(days=day), "reported_at": T0 + timedelta(days=day, hours=1),
            "version_count": 1, "tokens": ["bilan"], "current": {"attachment": None}, "versions": [], **fields}


def index(*docs: dict[str, Any], blocked: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [{"_id": f"patient|{d['_id']}", **entry(d), **({"blocked": True} if d["_id"] in blocked else {})}
            for d in docs]


def ids(found: list[dict[str, Any]]) -> list[str]:
    return [f["_id"] for f in found]


def test_an_entry_keeps_what_the_list_shows_and_the_search_words_only() -> None:
    doc = stored("a", 0, current={"attachment": {"file_id": "f"}, "observations": [{"display": "x"}]})
    assert set(entry(doc)) == {"document_type", "title", "author", "document_date", "reported_at", "status",
                               "version_count", "tokens", "has_file"}
    assert entry(doc)["has_file"] is True and entry(stored("b", 0))["has_file"] is False


def test_filters_blocked_withdrawn_words_and_dates() -> None:
    idx = index(stored("a", 0), stored("b", 1, status="withdrawn"), stored("c", 2, tokens=["bilan", "lipidique"]),
                stored("d", 40), blocked=("c",))
    newest = Listing("reported_at", True)
    assert ids(newest.page(idx, None, 10)) == ["d", "c", "a"]
    assert ids(Listing("reported_at", True, professional=True).page(idx, None, 10)) == ["d", "a"]
    assert ids(Listing("reported_at", True, include_withdrawn=True).page(idx, None, 10)) == ["d", "c", "b", "a"]
    assert ids(Listing("reported_at", True, words=("lipidique", "bilan")).page(idx, None, 10)) == ["c"]
    assert ids(Listing("reported_at", True, words=("lipidique", "scanner")).page(idx, None, 10)) == []
    month = Listing("document_date", False, start=T0, end=T0 + timedelta(days=31))
    assert ids(month.page(idx, None, 10)) == ["a", "c"]
    assert month.page(idx, None, 10)[1]["blocked"] is True and Listing("reported_at", True).page([], None, 5) == []
    only_a_flag = [*idx, {"_id": "patient|e", "blocked": True}]  # its entry not written yet: not listed
    assert ids(newest.page(only_a_flag, None, 10)) == ["d", "c", "a"]


@given(days=st.lists(st.integers(0, 3), max_size=25), size=st.integers(1, 6), descending=st.booleans())
def test_pages_never_skip_nor_repeat(days: list[int], size: int, descending: bool) -> None:
    idx = index(*(stored(f"doc-{i:02d}", day) for i, day in enumerate(days)))
    listing = Listing("document_date", descending)
    seen: list[dict[str, Any]] = []
    after = None
    while page := listing.page(idx, after, size):
        seen += page
        after = (page[-1]["document_date"], page[-1]["_id"])
    assert sorted(ids(seen)) == sorted(f"doc-{i:02d}" for i in range(len(days))) and len(seen) == len(days)
    keys = [(f["document_date"], f["_id"]) for f in seen]
    dates = [k[0] for k in keys]
    assert dates == sorted(dates, reverse=descending)
    assert all(a[1] < b[1] for a, b in itertools.pairwise(keys) if a[0] == b[0])  # same date: ids ascending
