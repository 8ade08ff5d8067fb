"""A patient's document list, kept as one small entry per document keyed `<matricule>|<document id>`. Pure: no I/O.

FerretDB answers a lookup by `_id` from its primary key and scans every document for any other filter (MongoDB
would use a secondary index). So the list, the search and the timeline read the patient's entries by an `_id`
prefix range (the `_id` index on MongoDB; on FerretDB too, `infra.ferretdb_patch` push-down 4), and ingestion
writes them by insert (an entry is new with its document; only a correction updates one). An entry holds the
document's summary and search words (written by ingestion and uploads) and its block flag (written by the
patient's commands only — the two writers set disjoint fields, so a new version never undoes a block). A page
is filtered, sorted and cut here, and its cursor (`cursor_after`, `after`) says where it ended: the list's order,
the sort field's value in whole milliseconds (as the database keeps times) and the id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.kit.paging import BadCursor, decode_cursor, encode_cursor

from .documents import Document

EPOCH, MS = datetime(1970, 1, 1, tzinfo=UTC), timedelta(milliseconds=1)

ENTRY_FIELDS = ("document_type", "title", "author", "document_date", "reported_at", "status", "version_count",
                "tokens")


def key(patient: str, doc_id: str) -> str:
    return f"{patient}|{doc_id}"


def prefix_range(patient: str) -> dict[str, str]:
    """The `_id` condition of one patient's entries ('}' follows '|')."""
    return {"$gte": f"{patient}|", "$lt": f"{patient}}}"}


def entry(doc: Document) -> dict[str, Any]:
    """What the list shows of a stored document, and its search words."""
    return {**{k: v for k, v in doc.items() if k in ENTRY_FIELDS},
            "has_file": bool((doc.get("current") or {}).get("attachment"))}


@dataclass(frozen=True)
class Listing:
    """Which of a patient's documents a list shows, in which order."""

    field: str  # the sort field: "reported_at" or "document_date"
    descending: bool
    professional: bool = False  # a professional never sees a blocked document
    include_withdrawn: bool = False
    words: tuple[str, ...] = ()  # every one must be among the document's search words
    start: datetime | None = None  # document_date >= start
    end: datetime | None = None  # document_date < end

    def shows(self, item: dict[str, Any]) -> bool:
        date = item["document_date"]
        return ((not self.professional or not item["blocked"])
                and (self.include_withdrawn or item["status"] == "active")
                and all(w in item.get("tokens", ()) for w in self.words)
                and (self.start is None or date >= self.start) and (self.end is None or date < self.end))

    def page(self, index: list[dict[str, Any]], after: tuple[datetime, str] | None,
             limit: int) -> list[dict[str, Any]]:
        """Up to `limit` entries (with `_id` and `blocked`) sorted by the field then id, after the position
        `after` (the field's value and the id of the last one shown): paging never skips nor repeats one."""
        shown = [item for item in items(index) if self.shows(item)]
        shown.sort(key=lambda item: item["_id"])
        shown.sort(key=lambda item: item[self.field], reverse=self.descending)  # stable: ids stay ascending
        if after is not None:
            at, last = after
            shown = [item for item in shown if self._beyond(item[self.field], at) or
                     (item[self.field] == at and item["_id"] > last)]
        return shown[:limit]

    def _beyond(self, value: datetime, at: datetime) -> bool:
        return value < at if self.descending else value > at

    @property
    def order(self) -> str:
        """The order a cursor is for (a cursor of another list's order is refused)."""
        return f"{self.field}:{'desc' if self.descending else 'asc'}"

    def cursor_after(self, item: dict[str, Any]) -> str:
        """The cursor of the page that ends with `item`."""
        return encode_cursor(self.order, ms(item[self.field]), item["_id"])


def ms(at: datetime) -> int:
    return (at.astimezone(UTC) - EPOCH) // MS


def after(cursor: str | None, order: str) -> tuple[datetime, str] | None:
    """The position a cursor of this list's `order` gave out (BadCursor for one of another list)."""
    if cursor is None:
        return None
    tag, at, doc_id = decode_cursor(cursor, 3)
    if tag != order or type(at) is not int or not isinstance(doc_id, str):
        raise BadCursor("cursor is not one this API gave out")
    return EPOCH + at * MS, doc_id


def items(index: list[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """The stored entries as the list shows them: `_id` the document's id; an entry only a block flag made (its
    document's entry not written yet: a crash in between, repaired by the redelivery) is left out."""
    return [{**found, "_id": found["_id"].split("|", 1)[1], "blocked": bool(found.get("blocked"))}
            for found in index if "document_date" in found]
