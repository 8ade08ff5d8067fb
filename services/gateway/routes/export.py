"""`GET /v1/me/export` — 'Télécharger mon DSP': the patient takes her whole DSP with her, as one FHIR R4 Bundle
(the European Health Data Space's right to portability): a `collection` of everything (`fhir/export.py`: Patient,
DocumentReference + Binary, DiagnosticReport + Observation of every version, Provenance, Consent, AuditEvent), its
first entry her patient summary (an IPS-shaped `document` Bundle).

The owner, or an assistant for the DSP they assist (`X-DSP-Patient`; their read is decided and audited, like any
assistant's); a professional cannot (there is no patient session). Everything is read from the services' APIs:
records (as viewer "patient": blocked documents included — they are hers), access (her choices and her trail),
through the typed clients (`clients/`)."""

from __future__ import annotations

import asyncio
import uuid
from typing import cast

from fastapi import APIRouter, Request, Response

from schemas.access import AccessStateV1, ActorRef, AuditEntryV1, PatientQuery
from schemas.records_api import DetailsQuery, DocumentDetail, DocumentFile

from ..clients import AccessClient, RecordsClient
from ..context import ReadingFor, ctx
from ..fhir import export
from ..fhir.routes import FHIR_JSON, FhirDoor
from ..problems import errors

router = APIRouter(prefix="/v1/me", tags=["patient"], responses=errors(400, 401, 403, 413, 422, 429, 503))
PAGE = 200  # documents (with their files) per records answer, its largest: ~1.5 MB with a PDF in five


@router.get("/export", summary="Download my whole DSP as FHIR R4: every document, value and version, my consents, "
            "my Traçabilité, and a patient summary ('Télécharger mon DSP')", response_class=Response,
            responses={200: {"description": "A FHIR R4 `collection` Bundle (its first entry the IPS-shaped summary, "
                                             "a `document` Bundle), as a download",
                             "content": {FHIR_JSON: {"schema": {"type": "object"}}}}})
async def my_export(request: Request, who: ReadingFor) -> Response:
    clients, door = ctx(request).clients, _door(request)
    now, patient = request.app.state.clock(), who.patient
    actor = ActorRef(kind="patient", id=who.user)
    # records and access answer at the same time: her documents with their files, a page at a time, her choices
    answers = await asyncio.gather(_documents(clients.records, patient),
                                   clients.access.state(PatientQuery(actor=actor, patient=patient)),
                                   _trail(clients.access, actor, patient),
                                   return_exceptions=True)  # each one ends before a refusal is answered
    for failed in answers:
        if isinstance(failed, BaseException):
            raise failed
    (documents, files), state, trail = cast(tuple[tuple[list[DocumentDetail], list[DocumentFile]], AccessStateV1,
                                                  list[AuditEntryV1]], answers)
    pid, base, names = door.ids.of(patient), door.base(request), _names(state.patient_name)
    export_id, summary_id = str(uuid.uuid4()), str(uuid.uuid4())
    body = export.download(pid, patient, names, documents, files, state, trail, base, now, export_id, summary_id)
    return Response(body, media_type=FHIR_JSON, headers={
        "Content-Disposition": f'attachment; filename="mon-dsp-{now:%Y-%m-%d}.json"', "Cache-Control": "no-store"})


def _door(request: Request) -> FhirDoor:
    found: FhirDoor = request.app.state.fhir
    return found


async def _documents(records: RecordsClient, patient: str) -> tuple[list[DocumentDetail], list[DocumentFile]]:
    """Every document of her DSP (withdrawn and blocked ones included) with every version's file: records'
    `/v1/documents/details`, a page of PAGE at a time (one call per page, not one per document and per file)."""
    documents: list[DocumentDetail] = []
    files: list[DocumentFile] = []
    cursor: str | None = None
    while True:
        page = await records.details(DetailsQuery(patient=patient, viewer="patient", include_withdrawn=True,
                                                  files=True, limit=PAGE, cursor=cursor))
        documents += page.items
        files += page.files
        cursor = page.next_cursor
        if cursor is None:
            return documents, files


async def _trail(access: AccessClient, actor: ActorRef, patient: str) -> list[AuditEntryV1]:
    """Her whole Traçabilité, oldest first."""
    out: list[AuditEntryV1] = []
    cursor: str | None = None
    while True:
        page = await access.audit(PatientQuery(actor=actor, patient=patient, limit=1000, cursor=cursor))
        out += page.items
        cursor = page.next_cursor
        if cursor is None:
            return out[::-1]


def _names(name: str | None) -> list[tuple[str, str]]:
    """'Marie Weber' (access's word) as FHIR's given and family names; none if unknown."""
    if not name or " " not in name:
        return []
    given, family = name.split(" ", 1)
    return [(given, family)]
