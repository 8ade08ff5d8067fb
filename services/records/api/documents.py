"""The gateway's routes (the use case `service/reads.py`): documents, search, timeline, detail, file, many details
(and files) at once, whose DSP a document is in, titles, an analyte's history, the status of a command."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from schemas.records_api import (
    CommandStatusQuery,
    DetailsQuery,
    DocumentQuery,
    DocumentsQuery,
    FileQuery,
    OwnerQuery,
    TimelineQuery,
    TitlesQuery,
    ValuesQuery,
)
from services.kit.http import Door
from services.kit.paging import BadCursor

from ..service.reads import Reads

GATEWAY = ("gateway",)
Answer = tuple[int, Any]


def _ok(model: BaseModel) -> Answer:
    return 200, model.model_dump(mode="json")


def _bad_cursor(exc: BadCursor) -> Answer:
    return 422, {"detail": "invalid request", "errors": [{"loc": ["cursor"], "msg": str(exc)}]}


def routes(door: Door, reads: Reads) -> list[tuple[str, Any]]:
    async def documents(raw: bytes) -> Answer:
        try:
            return _ok(await reads.documents(DocumentsQuery.model_validate_json(raw)))
        except BadCursor as exc:
            return _bad_cursor(exc)

    async def timeline(raw: bytes) -> Answer:
        try:
            return _ok(await reads.timeline(TimelineQuery.model_validate_json(raw)))
        except BadCursor as exc:
            return _bad_cursor(exc)

    async def detail(raw: bytes) -> Answer:
        found = await reads.detail(DocumentQuery.model_validate_json(raw))
        return _ok(found) if found is not None else (404, {"detail": "no such document in this DSP"})

    async def file(raw: bytes) -> Answer:
        found = await reads.file(FileQuery.model_validate_json(raw))
        return _ok(found) if found is not None else (404, {"detail": "no such document file in this DSP"})

    async def owner(raw: bytes) -> Answer:
        found = await reads.owner(OwnerQuery.model_validate_json(raw))
        return _ok(found) if found is not None else (404, {"detail": "no such document"})

    async def details(raw: bytes) -> Answer:
        try:  # a large answer (files): serialised by pydantic in one go
            return 200, (await reads.details(DetailsQuery.model_validate_json(raw))).model_dump_json().encode()
        except BadCursor as exc:
            return _bad_cursor(exc)

    async def titles(raw: bytes) -> Answer:
        return _ok(await reads.titles(TitlesQuery.model_validate_json(raw)))

    async def values(raw: bytes) -> Answer:
        return _ok(await reads.values(ValuesQuery.model_validate_json(raw)))

    async def command_status(raw: bytes) -> Answer:
        return _ok(await reads.command_status(CommandStatusQuery.model_validate_json(raw)))

    return [("/v1/documents", door.endpoint(documents, GATEWAY)),
            ("/v1/documents/timeline", door.endpoint(timeline, GATEWAY)),
            ("/v1/documents/detail", door.endpoint(detail, GATEWAY)),
            ("/v1/documents/file", door.endpoint(file, GATEWAY)),
            ("/v1/documents/details", door.endpoint(details, GATEWAY)),
            ("/v1/documents/owner", door.endpoint(owner, GATEWAY)),
            ("/v1/documents/titles", door.endpoint(titles, GATEWAY)),
            ("/v1/documents/values", door.endpoint(values, GATEWAY)),
            ("/v1/commands/status", door.endpoint(command_status, GATEWAY))]
