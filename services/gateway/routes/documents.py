"""The patient's documents through records' read API: latest documents and search (cursor pages), the
'Ligne de vie', a document's detail (observations, every version, the file), the file itself; uploads and blocks
(asynchronous: their `command_id` is polled at `/v1/me/commands/{command_id}`). The patient, or an assistant via
`X-DSP-Patient` (`ActingFor`), sees every document of the DSP, blocked ones included; an assistant's reads are
decided and audited as a professional's are — `read`, per document for a detail or a file (`ReadingFor`,
`ReadingDocument`).
"""

from __future__ import annotations

import base64
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.fields import MESSAGE_ID_PATTERN
from schemas.lab_result import LOINC
from schemas.portal import Accepted
from schemas.portal_documents import (
    AnalyteHistories,
    CommandOutcome,
    CommandState,
    DocumentDetail,
    DocumentPage,
    Order,
)
from schemas.records_api import (
    CommandStatusQuery,
    DocumentFile,
    DocumentQuery,
    DocumentsQuery,
    FileQuery,
    TimelineQuery,
    ValuesQuery,
)

from ..calls import query
from ..context import ActingFor, Cursor, DocumentId, ReadingDocument, ReadingFor, ctx
from ..problems import Refusal, errors
from ..service import naming, uploads
from ..uploads import FILE_RESPONSE, download_headers

STATES = {"pending": CommandState.PENDING, "applied": CommandState.APPLIED, "rejected": CommandState.REJECTED}
router = APIRouter(prefix="/v1/me", tags=["patient"], responses=errors(400, 401, 403, 413, 422, 429, 503))


class Upload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    content_type: Literal["application/pdf", "image/jpeg", "image/png"]
    # up to the body limit (app.UPLOAD_BODY): a file over uploads.MAX_BYTES (5 MiB) is then a 413, not a 422
    data_base64: str = Field(max_length=8 * 1024 * 1024)
    document_date: AwareDatetime | None = None


@router.get("/documents", summary="Latest documents, or a keyword search (cursor pages)",
            response_model=DocumentPage)
async def documents(request: Request, who: ReadingFor, q: Annotated[str | None, Query(max_length=100)] = None,
                    order: Annotated[Order, Query(description="reported_at: latest arrivals first; "
                                                             "document_date: by clinical date")] = "reported_at",
                    include_withdrawn: bool = False, cursor: Cursor = None,
                    limit: Annotated[int, Query(ge=1, le=100)] = 20) -> DocumentPage:
    return await ctx(request).clients.records.documents(query(
        DocumentsQuery, patient=who.patient, viewer="patient", q=q or None, sort=order,
        include_withdrawn=include_withdrawn, cursor=cursor, limit=limit))


@router.get("/documents/{document_id}", summary="One document: its results, every version, its file",
            response_model=DocumentDetail, responses=errors(404))
async def detail(document_id: DocumentId, request: Request, who: ReadingDocument) -> DocumentDetail:
    c = ctx(request)
    return await naming.detail(c.clients.records, c.clients.access, query(
        DocumentQuery, patient=who.patient, viewer="patient", document_id=document_id), remembered=c.prescriber_names)


@router.get("/documents/{document_id}/file", summary="Download a document's file", response_class=Response,
            responses={**FILE_RESPONSE, **errors(404)})
async def document_file(document_id: DocumentId, request: Request, who: ReadingDocument,
                        version: Annotated[int | None, Query(ge=1, le=10_000)] = None) -> Response:
    return served(await ctx(request).clients.records.file(query(
        FileQuery, patient=who.patient, viewer="patient", document_id=document_id, version=version)))


@router.get("/timeline", summary="The timeline ('Ligne de vie') between two dates, oldest first (cursor pages)",
            response_model=DocumentPage)
async def timeline(request: Request, start: AwareDatetime, end: AwareDatetime, who: ReadingFor,
                   cursor: Cursor = None, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> DocumentPage:
    if end <= start:
        raise Refusal(422, "invalid request", errors=[{"loc": ["query", "end"], "msg": "end must be after start"}])
    return await ctx(request).clients.records.timeline(query(
        TimelineQuery, patient=who.patient, viewer="patient", start=start, end=end, cursor=cursor, limit=limit))


@router.get("/values", summary="Every result of some analytes (by LOINC code) in the lab results, oldest first: a "
            "value's history", response_model=AnalyteHistories)
async def values(request: Request, who: ReadingFor,
                 loinc: Annotated[list[LOINC], Query(min_length=1, max_length=50,
                                                     description="LOINC codes, e.g. 718-7 (haemoglobin)")]
                 ) -> AnalyteHistories:
    return await ctx(request).clients.records.values(query(ValuesQuery, patient=who.patient, viewer="patient",
                                                           loinc=loinc))


@router.get("/commands/{command_id}", summary="What became of an upload, block or unblock (poll it)",
            response_model=CommandOutcome)
async def command_status(command_id: Annotated[str, PathParam(pattern=MESSAGE_ID_PATTERN)],
                         request: Request, who: ActingFor) -> CommandOutcome:
    found = await ctx(request).clients.records.command_status(query(CommandStatusQuery, patient=who.patient,
                                                                     command_id=command_id))
    return CommandOutcome(**{**dict(found), "status": STATES[found.status]})


def served(file: DocumentFile) -> Response:
    """records' file answer (base64 JSON) as a download."""
    return Response(base64.b64decode(file.data_base64), media_type=file.content_type,
                    headers=download_headers(file.document_id, file.content_type))


@router.post("/documents", status_code=202, summary="Deposit a document (PDF, JPEG or PNG, up to 5 MiB)")
async def upload(body: Upload, request: Request, who: ActingFor) -> Accepted:
    return await uploads.upload(ctx(request), who, body.model_dump(mode="json", exclude_none=True))


@router.post("/documents/{document_id}/{action}", status_code=202, responses=errors(404),
             summary="Hide a document from professionals, or show it again")
async def block(document_id: DocumentId, action: Literal["block", "unblock"], request: Request,
                who: ActingFor) -> Accepted:
    return await uploads.visibility(ctx(request), who, document_id, action)
