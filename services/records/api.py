"""records' internal read API (on the worker's own port): documents, search, timeline, detail, file, titles, the
status of a command, and counts for the console. Every route is behind the door (JSON POST, a known Host, a
service token): the gateway reads documents — after access decided, so the viewer is the gateway's word — and the
console counts.

Bodies are `schemas.records_api` models; a malformed body or cursor is a 422 with the reasons, an unknown or hidden
document a 404, the database down a 503. A professional never sees a blocked document, not even by its id. A lab
result names its laboratory as the directory lists it (`laboratory_name`, from memory: `laboratories`).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from schemas.records_api import (
    CommandStatus,
    CommandStatusQuery,
    DocumentFile,
    DocumentFileInfo,
    DocumentPage,
    DocumentQuery,
    DocumentsQuery,
    DocumentTitles,
    FileQuery,
    RecordsStats,
    StatsQuery,
    TimelineQuery,
    TitlesQuery,
)
from services.kit.http import Door
from services.kit.paging import BadCursor, decode_cursor, encode_cursor

from . import views
from .domain import Document, tokens
from .laboratories import Laboratories
from .listing import Listing
from .store import RecordsStore

GATEWAY, CONSOLE = ("gateway",), ("console",)
EPOCH, MS = datetime(1970, 1, 1, tzinfo=UTC), timedelta(milliseconds=1)
Answer = tuple[int, Any]


def _ms(at: datetime) -> int:
    return (at.astimezone(UTC) - EPOCH) // MS


def _after(cursor: str | None, order: str) -> tuple[datetime, str] | None:
    """The position a cursor of this list's `order` gave out (BadCursor for one of another list)."""
    if cursor is None:
        return None
    tag, at, doc_id = decode_cursor(cursor, 3)
    if tag != order or type(at) is not int or not isinstance(doc_id, str):
        raise BadCursor("cursor is not one this API gave out")
    return EPOCH + at * MS, doc_id


def _bad_cursor(exc: BadCursor) -> Answer:
    return 422, {"detail": "invalid request", "errors": [{"loc": ["cursor"], "msg": str(exc)}]}


def _ok(model: BaseModel) -> Answer:
    return 200, model.model_dump(mode="json")


class RecordsApi:
    def __init__(self, store: RecordsStore, laboratories: Laboratories) -> None:
        """`laboratories`: the directory's, in memory, so that a lab result names its laboratory."""
        self.store, self.names = store, laboratories.name

    def routes(self, door: Door) -> list[tuple[str, Any]]:
        return [("/v1/documents", door.endpoint(self.documents, GATEWAY)),
                ("/v1/documents/timeline", door.endpoint(self.timeline, GATEWAY)),
                ("/v1/documents/detail", door.endpoint(self.detail, GATEWAY)),
                ("/v1/documents/file", door.endpoint(self.file, GATEWAY)),
                ("/v1/documents/titles", door.endpoint(self.titles, GATEWAY)),
                ("/v1/commands/status", door.endpoint(self.command_status, GATEWAY)),
                ("/v1/stats", door.endpoint(self.stats, CONSOLE))]

    async def _page(self, patient: str, listing: Listing, cursor: str | None, limit: int) -> Answer:
        order = f"{listing.field}:{'desc' if listing.descending else 'asc'}"
        try:
            after = _after(cursor, order)
        except BadCursor as exc:
            return _bad_cursor(exc)
        found = listing.page(await self.store.patient_index(patient), after, limit + 1)
        items, more = found[:limit], len(found) > limit
        next_cursor = encode_cursor(order, _ms(items[-1][listing.field]), items[-1]["_id"]) if more else None
        return _ok(DocumentPage(items=[views.summary(d, self.names) for d in items], next_cursor=next_cursor))

    async def documents(self, raw: bytes) -> Answer:
        body = DocumentsQuery.model_validate_json(raw)
        words = tokens(body.q) if body.q is not None else []
        if body.q is not None and not words:  # nothing searchable (one letter, punctuation): nothing found
            return _ok(DocumentPage(items=[], next_cursor=None))
        return await self._page(body.patient, Listing(body.sort, True, body.viewer == "professional",
                                                      body.include_withdrawn, tuple(words)), body.cursor, body.limit)

    async def timeline(self, raw: bytes) -> Answer:
        body = TimelineQuery.model_validate_json(raw)
        return await self._page(body.patient, Listing("document_date", False, body.viewer == "professional",
                                                      start=body.start, end=body.end), body.cursor, body.limit)

    async def _document(self, body: DocumentQuery) -> Document | None:
        return await self.store.document(body.patient, body.document_id, body.viewer == "professional")

    async def detail(self, raw: bytes) -> Answer:
        doc = await self._document(DocumentQuery.model_validate_json(raw))
        if doc is None:
            return 404, {"detail": "no such document in this DSP"}
        current = views.attachment(doc, None)
        file = None
        if current is not None:
            file = DocumentFileInfo(content_type=current[1]["content_type"],
                                    size=await self.store.files.size(current[1]["file_id"]))
        return _ok(views.detail(doc, file, self.names))

    async def file(self, raw: bytes) -> Answer:
        body = FileQuery.model_validate_json(raw)
        doc = await self._document(body)
        found = views.attachment(doc, body.version) if doc is not None else None
        data = await self.store.files.read(found[1]["file_id"]) if found is not None else None
        if found is None or data is None:
            return 404, {"detail": "no such document file in this DSP"}
        return _ok(DocumentFile(document_id=body.document_id, version=found[0], content_type=found[1]["content_type"],
                                size=len(data), data_base64=base64.b64encode(data).decode()))

    async def command_status(self, raw: bytes) -> Answer:
        body = CommandStatusQuery.model_validate_json(raw)
        found = await self.store.outcome(body.command_id, body.patient)
        if found is None:
            return _ok(CommandStatus(command_id=body.command_id, status="pending", command=None, document_id=None,
                                     reason=None, at=None))
        return _ok(CommandStatus(command_id=body.command_id, status=found["status"], command=found["command"],
                                 document_id=found.get("document_id"), reason=found.get("reason"), at=found["at"]))

    async def titles(self, raw: bytes) -> Answer:
        body = TitlesQuery.model_validate_json(raw)
        return _ok(DocumentTitles(titles=await self.store.titles(body.patient, body.ids) if body.ids else {}))

    async def stats(self, raw: bytes) -> Answer:
        StatsQuery.model_validate_json(raw)
        return _ok(RecordsStats(**await self.store.counts()))
