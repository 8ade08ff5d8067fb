"""records' read API for the portal (`services/records/api/documents.py`): a DSP's documents, its timeline, one
document's detail and file, many at once, whose DSP a document is in, an analyte's history, the documents' titles,
the status of a command. Each read names the viewer: "patient" (the owner or an assistant: blocked documents
included) or "professional" (never a blocked one). `where` locates a refused field (a cursor records did not give
out) as the portal's client sent it."""

from __future__ import annotations

import httpx

from schemas.records_api import (
    AnalyteHistories,
    CommandStatus,
    CommandStatusQuery,
    DetailsQuery,
    DocumentDetail,
    DocumentDetails,
    DocumentFile,
    DocumentOwner,
    DocumentPage,
    DocumentQuery,
    DocumentsQuery,
    DocumentTitles,
    FileQuery,
    OwnerQuery,
    TimelineQuery,
    TitlesQuery,
    ValuesQuery,
)

from ..calls import ask

SERVICE = "records"
READ = (404, 422)  # a document not in this DSP (or blocked, for a professional); a cursor records did not give out


class RecordsClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def documents(self, query: DocumentsQuery, where: str = "query") -> DocumentPage:
        return await ask(self.http, SERVICE, "/v1/documents", query, DocumentPage, READ, where)

    async def timeline(self, query: TimelineQuery, where: str = "query") -> DocumentPage:
        return await ask(self.http, SERVICE, "/v1/documents/timeline", query, DocumentPage, READ, where)

    async def detail(self, query: DocumentQuery, where: str = "query") -> DocumentDetail:
        return await ask(self.http, SERVICE, "/v1/documents/detail", query, DocumentDetail, READ, where)

    async def details(self, query: DetailsQuery) -> DocumentDetails:
        """Many documents' details (and their files, if asked) in one answer: those named, or a page of the DSP; a
        named one this viewer may not see is only listed in `missing`."""
        return await ask(self.http, SERVICE, "/v1/documents/details", query, DocumentDetails, READ)

    async def file(self, query: FileQuery, where: str = "query") -> DocumentFile:
        return await ask(self.http, SERVICE, "/v1/documents/file", query, DocumentFile, READ, where)

    async def owner(self, query: OwnerQuery) -> DocumentOwner:
        """Whose DSP a document is in (for a read by id that names no patient: access decides on it next); a 404
        for no such document."""
        return await ask(self.http, SERVICE, "/v1/documents/owner", query, DocumentOwner, keep=(404,))

    async def values(self, query: ValuesQuery, where: str = "query") -> AnalyteHistories:
        return await ask(self.http, SERVICE, "/v1/documents/values", query, AnalyteHistories, READ, where)

    async def titles(self, query: TitlesQuery) -> DocumentTitles:
        return await ask(self.http, SERVICE, "/v1/documents/titles", query, DocumentTitles, keep=())

    async def command_status(self, query: CommandStatusQuery) -> CommandStatus:
        return await ask(self.http, SERVICE, "/v1/commands/status", query, CommandStatus, keep=())
