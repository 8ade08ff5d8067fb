"""A professional's reads of a patient's documents: pages, search, the timeline, a document's detail, its file —
each decided and audited by access first (`/v1/decisions`; the detail and the file per document), then asked of
records' read API as viewer "professional", so a blocked document is never shown. Patients are named in bodies,
never in URLs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.fields import IDENTIFIER_PATTERN, Matricule
from schemas.lab_result import LOINC
from schemas.portal_documents import AnalyteHistories, DocumentDetail, DocumentPage, Order

from . import prescribers
from .calls import read
from .context import Context, ctx
from .problems import Refusal, errors
from .professional import Professional
from .records import served
from .uploads import FILE_RESPONSE

router = APIRouter(prefix="/v1/pro", tags=["professional"], responses=errors(400, 401, 413, 422, 429, 503))

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


async def _decide(c: Context, pro: str, patient: str, document: str | None) -> None:
    body = {"actor": {"kind": "professional", "id": pro}, "action": "read", "patient": patient}
    if document:
        body["document"] = document
    reply = await c.access.post("/v1/decisions", json=body)
    if reply.status_code != 200:
        raise Refusal(503, "access decisions unavailable; try again")
    decision = reply.json()
    if not decision["allowed"]:
        raise Refusal(403, decision["reason"])


@router.post("/documents", summary="A patient's documents (latest, or a keyword search; cursor pages), if access "
             "allows", response_model=DocumentPage, responses=errors(403))
async def documents(body: PatientBody, request: Request, pro: Professional) -> Any:
    c = ctx(request)
    await _decide(c, pro, body.patient, None)
    return await _records(c, body.patient, "/v1/documents", q=body.q or None, sort=body.order, cursor=body.cursor,
                          limit=body.limit)


@router.post("/documents/timeline", summary="A patient's timeline between two dates (cursor pages), if access "
             "allows", response_model=DocumentPage, responses=errors(403))
async def timeline(body: TimelineBody, request: Request, pro: Professional) -> Any:
    c = ctx(request)
    if body.end <= body.start:
        raise Refusal(422, "invalid request", errors=[{"loc": ["body", "end"], "msg": "end must be after start"}])
    await _decide(c, pro, body.patient, None)
    return await _records(c, body.patient, "/v1/documents/timeline", start=body.start.isoformat(),
                          end=body.end.isoformat(), cursor=body.cursor, limit=body.limit)


@router.post("/documents/detail", summary="One document's results, versions and file info, if access allows "
             "(audited)", response_model=DocumentDetail, responses=errors(403, 404))
async def detail(body: DocumentBody, request: Request, pro: Professional) -> Any:
    c = ctx(request)
    await _decide(c, pro, body.patient, body.document_id)
    return await prescribers.named(c, await _records(c, body.patient, "/v1/documents/detail",
                                                     document_id=body.document_id))


@router.post("/values", summary="Every result of some analytes (by LOINC code) in a patient's lab results, oldest "
             "first, if access allows", response_model=AnalyteHistories, responses=errors(403))
async def values(body: ValuesBody, request: Request, pro: Professional) -> Any:
    c = ctx(request)
    await _decide(c, pro, body.patient, None)
    return await _records(c, body.patient, "/v1/documents/values", loinc=body.loinc)


@router.post("/documents/file", summary="One document's file, if access allows (audited)", response_class=Response,
             responses={**FILE_RESPONSE, **errors(403, 404)})
async def document_file(body: DocumentBody, request: Request, pro: Professional) -> Response:
    c = ctx(request)
    await _decide(c, pro, body.patient, body.document_id)
    return served(await _records(c, body.patient, "/v1/documents/file", document_id=body.document_id,
                                 version=body.version))


async def _records(c: Context, patient: str, path: str, **body: Any) -> Any:
    """records' answer for a professional: blocked documents hidden (a blocked one's id is a 404)."""
    return await read(c.records, "records", path, {"patient": patient, "viewer": "professional", **body},
                      keep=(404, 422), where="body")
