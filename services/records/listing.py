"""A patient's document list, kept in one index document per patient. Pure: no I/O.

FerretDB answers a lookup by `_id` from its primary key and scans every document for any other filter (MongoDB
would use a secondary index; both answer an `_id` lookup at once). So the list, the search and the timeline
read one document, `_id` = the matricule: `docs` holds each document's summary and search words (written by
ingestion and uploads), `blocked` each document's block flag (written by the patient's commands only — the two
writers set disjoint fields, so a new version never undoes a block). A page is filtered, sorted and cut here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

ENTRY_FIELDS = ("document_type", "title", "author", "document_date", "reported_at", "status", "version_count",
                "tokens")


def entry(doc: dict[str, Any]) -> dict[str, Any]:
    """What the list shows of a stored document, and its search words."""
    return {**{k: doc[k] for k in ENTRY_FIELDS if k in doc},
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

    def page(self, index: dict[str, Any] | None, after: tuple[datetime, str] | None,
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


def items(index: dict[str, Any] | None) -> Iterable[dict[str, Any]]:
    if index is None:
        return []
    blocked = index.get("blocked") or {}
    return [{**found, "_id": doc_id, "blocked": bool(blocked.get(doc_id))}
            for doc_id, found in (index.get("docs") or {}).items()]
