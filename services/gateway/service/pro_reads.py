"""A professional's reads of a patient's documents: each decided and audited by access first (`/v1/decisions`; the
detail and the file per document), then asked of records as viewer "professional", so a blocked document is never
shown. The fields a service refuses are located in the body (patients are named in bodies, never in URLs)."""

from __future__ import annotations

from schemas.access import ActorRef, DecisionRequest
from schemas.portal_documents import DocumentDetail
from schemas.records_api import (
    AnalyteHistories,
    DocumentFile,
    DocumentPage,
    DocumentQuery,
    DocumentsQuery,
    FileQuery,
    TimelineQuery,
    ValuesQuery,
)

from ..context import Context
from ..problems import Refusal
from . import naming

WHERE = "body"


async def decide(c: Context, professional: str, patient: str, document: str | None = None) -> None:
    """access's decision on a professional's read (audited on the patient's trail); refused: a 403 with why."""
    decision = await c.clients.access.decide(DecisionRequest(actor=ActorRef(kind="professional", id=professional),
                                                              action="read", patient=patient, document=document))
    if not decision.allowed:
        raise Refusal(403, decision.reason)


async def documents(c: Context, professional: str, query: DocumentsQuery) -> DocumentPage:
    await decide(c, professional, query.patient)
    return await c.clients.records.documents(query, WHERE)


async def timeline(c: Context, professional: str, query: TimelineQuery) -> DocumentPage:
    await decide(c, professional, query.patient)
    return await c.clients.records.timeline(query, WHERE)


async def detail(c: Context, professional: str, query: DocumentQuery) -> DocumentDetail:
    await decide(c, professional, query.patient, query.document_id)
    return await naming.detail(c.clients.records, c.clients.access, query, WHERE, c.prescriber_names)


async def values(c: Context, professional: str, query: ValuesQuery) -> AnalyteHistories:
    await decide(c, professional, query.patient)
    return await c.clients.records.values(query, WHERE)


async def file(c: Context, professional: str, query: FileQuery) -> DocumentFile:
    await decide(c, professional, query.patient, query.document_id)
    return await c.clients.records.file(query, WHERE)
