"""A professional's reads of a patient's documents: pages, search, the timeline, a document's detail, its file —
each decided and audited by access first (`/v1/decisions`; the detail and the file per document), then asked of
records' read API as viewer "professional", so a blocked document is never shown (`service/pro_reads.py`).
Patients are named in bodies, never in URLs."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.fields import IDENTIFIER_PATTERN, Matricule
from schemas.lab_result import LOINC
from schemas.portal_documents import AnalyteHistories, DocumentDetail, DocumentPage, Order
from schemas.records_api import DocumentQuery, DocumentsQuery, FileQuery, TimelineQuery, ValuesQuery

from ..calls import query
from ..context import ctx
from ..problems import Refusal, errors
from ..service import pro_reads
from ..uploads import FILE_RESPONSE
from .documents import served
from .professional import Professional

router = APIRouter(prefix="/v1/pro", tags=["professional"], responses=errors(400, 401, 413, 422, 429, 503))

WHERE = "body"  # a field a service refuses is where the client sent it
PAGE_CURSOR = Field(default=None, max_length=512, description="`next_cursor` of the previous page")


class PatientBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patient: Matricule
    q: str | None = Field(default=None, max_length=100, description="Keyword search")
    order: Order = Field(default="reported_at", description="reported_at: latest arrivals first; document_date: "
                                                            "by clinical date")
    cursor: str | None = PAGE_CURSOR
    limit: int = Field(default=20, ge=1, le=100, description="Documents per page")


class TimelineBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patient: Matricule
    start: AwareDatetime = Field(description="From this clinical date (included)")
    end: AwareDatetime = Field(description="Until this clinical date (excluded)")
    cursor: str | None = PAGE_CURSOR
    limit: int = Field(default=100, ge=1, le=500, description="Documents per page")


class DocumentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patient: Matricule
    document_id: str = Field(max_length=64, pattern=IDENTIFIER_PATTERN)
    version: int | None = Field(default=None, ge=1, le=10_000, description="The file only: an earlier version's")


class ValuesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patient: Matricule
    loinc: list[LOINC] = Field(min_length=1, max_length=50, description="LOINC codes, e.g. 718-7 (haemoglobin)")


@router.post("/documents", summary="A patient's documents (latest, or a keyword search; cursor pages), if access "
             "allows", response_model=DocumentPage, responses=errors(403))
async def documents(body: PatientBody, request: Request, pro: Professional) -> DocumentPage:
    return await pro_reads.documents(ctx(request), pro, query(
        DocumentsQuery, WHERE, patient=body.patient, viewer="professional", q=body.q or None, sort=body.order,
        cursor=body.cursor, limit=body.limit))


@router.post("/documents/timeline", summary="A patient's timeline between two dates (cursor pages), if access "
             "allows", response_model=DocumentPage, responses=errors(403))
async def timeline(body: TimelineBody, request: Request, pro: Professional) -> DocumentPage:
    if body.end <= body.start:
        raise Refusal(422, "invalid request", errors=[{"loc": ["body", "end"], "msg": "end must be after start"}])
    return await pro_reads.timeline(ctx(request), pro, query(
        TimelineQuery, WHERE, patient=body.patient, viewer="professional", start=body.start, end=body.end,
        cursor=body.cursor, limit=body.limit))


@router.post("/documents/detail", summary="One document's results, versions and file info, if access allows "
             "(audited)", response_model=DocumentDetail, responses=errors(403, 404))
async def detail(body: DocumentBody, request: Request, pro: Professional) -> DocumentDetail:
    return await pro_reads.detail(ctx(request), pro, query(
        DocumentQuery, WHERE, patient=body.patient, viewer="professional", document_id=body.document_id))


@router.post("/values", summary="Every result of some analytes (by LOINC code) in a patient's lab results, oldest "
             "first, if access allows", response_model=AnalyteHistories, responses=errors(403))
async def values(body: ValuesBody, request: Request, pro: Professional) -> AnalyteHistories:
    return await pro_reads.values(ctx(request), pro, query(ValuesQuery, WHERE, patient=body.patient,
                                                           viewer="professional", loinc=body.loinc))


@router.post("/documents/file", summary="One document's file, if access allows (audited)", response_class=Response,
             responses={**FILE_RESPONSE, **errors(403, 404)})
async def document_file(body: DocumentBody, request: Request, pro: Professional) -> Response:
    return served(await pro_reads.file(ctx(request), pro, query(
        FileQuery, WHERE, patient=body.patient, viewer="professional", document_id=body.document_id,
        version=body.version)))
