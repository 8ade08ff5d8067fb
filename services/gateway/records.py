"""The patient's documents through records' read API: latest documents and search (cursor pages), the
'Ligne de vie', a document's detail (observations, every version, the file), the file itself; uploads and blocks
(asynchronous: their `command_id` is polled at `/v1/me/commands/{command_id}`). The patient, or an assistant via
`X-DSP-Patient` (`ActingFor`), sees every document of the DSP, blocked ones included; an assistant's reads are
decided and audited as a professional's are — `read`, per document for a detail or a file (`ReadingFor`,
`ReadingDocument`).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.fields import IDENTIFIER_PATTERN, MESSAGE_ID_PATTERN
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
from schemas.records import RecordsCommandV1
from schemas.topics import RECORDS_COMMANDS

from . import prescribers, uploads
from .calls import read
from .context import Acting, ActingFor, Behalf, Context, Cursor, Session, act_for, checked, ctx
from .problems import Refusal, errors
from .uploads import FILE_RESPONSE, download_headers

DocumentId = Annotated[str, PathParam(max_length=64, pattern=IDENTIFIER_PATTERN)]
STATES = {"pending": CommandState.PENDING, "applied": CommandState.APPLIED, "rejected": CommandState.REJECTED}
router = APIRouter(prefix="/v1/me", tags=["patient"], responses=errors(400, 401, 403, 413, 422, 429, 503))


async def reading(request: Request, session: Session = None, behalf: Behalf = None) -> Acting:
    """A read of the DSP's documents (a page, a search, the timeline): an assistant's is a `read` decision on the
    DSP, audited on the patient's trail as a professional's is."""
    return await act_for(request, session, behalf, "read")


async def reading_document(document_id: DocumentId, request: Request, session: Session = None,
                           behalf: Behalf = None) -> Acting:
    """A read of one document (its detail, its file): an assistant's is a `read` decision on that document, so the
    patient's 'Traçabilité' shows which document the assistant read."""
    return await act_for(request, session, behalf, "read", document_id)


ReadingFor = Annotated[Acting, Depends(reading)]
ReadingDocument = Annotated[Acting, Depends(reading_document)]


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
                    limit: Annotated[int, Query(ge=1, le=100)] = 20) -> Any:
    return await _records(request, who, "/v1/documents", q=q or None, sort=order,
                          include_withdrawn=include_withdrawn, cursor=cursor, limit=limit)


@router.get("/documents/{document_id}", summary="One document: its results, every version, its file",
            response_model=DocumentDetail, responses=errors(404))
async def detail(document_id: DocumentId, request: Request, who: ReadingDocument) -> Any:
    return await prescribers.named(ctx(request), await _records(request, who, "/v1/documents/detail",
                                                                document_id=document_id))


@router.get("/documents/{document_id}/file", summary="Download a document's file", response_class=Response,
            responses={**FILE_RESPONSE, **errors(404)})
async def document_file(document_id: DocumentId, request: Request, who: ReadingDocument,
                        version: Annotated[int | None, Query(ge=1, le=10_000)] = None) -> Response:
    return served(await _records(request, who, "/v1/documents/file", document_id=document_id, version=version))


@router.get("/timeline", summary="The timeline ('Ligne de vie') between two dates, oldest first (cursor pages)",
            response_model=DocumentPage)
async def timeline(request: Request, start: AwareDatetime, end: AwareDatetime, who: ReadingFor,
                   cursor: Cursor = None, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Any:
    if end <= start:
        raise Refusal(422, "invalid request", errors=[{"loc": ["query", "end"], "msg": "end must be after start"}])
    return await _records(request, who, "/v1/documents/timeline", start=start.isoformat(), end=end.isoformat(),
                          cursor=cursor, limit=limit)


@router.get("/values", summary="Every result of some analytes (by LOINC code) in the lab results, oldest first: a "
            "value's history", response_model=AnalyteHistories)
async def values(request: Request, who: ReadingFor,
                 loinc: Annotated[list[LOINC], Query(min_length=1, max_length=50,
                                                     description="LOINC codes, e.g. 718-7 (haemoglobin)")]) -> Any:
    return await _records(request, who, "/v1/documents/values", loinc=loinc)


@router.get("/commands/{command_id}", summary="What became of an upload, block or unblock (poll it)",
            response_model=CommandOutcome)
async def command_status(command_id: Annotated[str, PathParam(pattern=MESSAGE_ID_PATTERN)],
                         request: Request, who: ActingFor) -> CommandOutcome:
    found = await read(ctx(request).records, "records", "/v1/commands/status",
                       {"patient": who.patient, "command_id": command_id}, keep=())
    if found["status"] not in STATES:
        raise Refusal(503, "records answered an unknown command status; try again")
    return CommandOutcome(**{**found, "status": STATES[found["status"]]})


async def _records(request: Request, who: Acting, path: str, **body: Any) -> Any:
    return await read(ctx(request).records, "records", path, {"patient": who.patient, "viewer": "patient", **body},
                      keep=(404, 422))


def served(file: dict[str, Any]) -> Response:
    """records' file answer (base64 JSON) as a download."""
    data = base64.b64decode(file["data_base64"])
    return Response(data, media_type=file["content_type"],
                    headers=download_headers(file["document_id"], file["content_type"]))


@router.post("/documents", status_code=202, summary="Deposit a document (PDF, JPEG or PNG, up to 5 MiB)")
async def upload(body: Upload, request: Request, who: ActingFor) -> Accepted:
    c, (user, patient) = ctx(request), who
    try:
        data = base64.b64decode(body.data_base64, validate=True)
    except binascii.Error:
        raise Refusal(422, "data_base64 is not valid base64") from None
    try:
        await uploads.check_async(body.content_type, data)  # parsed whole: a polyglot or a damaged file is refused
    except uploads.Refused as exc:
        raise Refusal(exc.status, exc.reason) from None
    command_id = f"gw-{uuid.uuid4()}"
    await _send(c, patient, {"command": "upload-document", "command_id": command_id, "patient_matricule": patient,
                             "uploaded_by": user, **body.model_dump(mode="json", exclude_none=True)})
    return Accepted(document_id=uploads.upload_id(command_id), status="accepted", command_id=command_id)


@router.post("/documents/{document_id}/{action}", status_code=202, responses=errors(404),
             summary="Hide a document from professionals, or show it again")
async def block(document_id: DocumentId, action: Literal["block", "unblock"], request: Request,
                who: ActingFor) -> Accepted:
    c, (user, patient) = ctx(request), who
    await _records(request, who, "/v1/documents/detail", document_id=document_id)  # a 404 if not in this DSP
    command_id = f"gw-{uuid.uuid4()}"
    await _send(c, patient, {"command": f"{action}-document", "command_id": command_id,
                             "patient_matricule": patient, "requested_by": user, "document_id": document_id})
    return Accepted(document_id=document_id, status="accepted", command_id=command_id)


async def _send(c: Context, patient: str, body: dict[str, Any]) -> None:
    checked(RecordsCommandV1, body)
    await c.bus.send(RECORDS_COMMANDS.name, patient, body)
