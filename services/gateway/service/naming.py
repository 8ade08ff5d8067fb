"""A document's detail with its prescriber named, as the directory of professionals lists them (access's copy of
it, `AccessClient.professional`): what the patient and the professional read rather than an id. A directory that
does not answer leaves the name out (the document is still served, its `prescriber_id` kept)."""

from __future__ import annotations

import httpx

from schemas.access import ProfessionalGet
from schemas.portal_documents import DocumentDetail
from schemas.records_api import DocumentDetail as RecordsDetail
from schemas.records_api import DocumentQuery

from ..clients import AccessClient, RecordsClient
from ..problems import Refusal


async def named(access: AccessClient, detail: RecordsDetail) -> DocumentDetail:
    """records' document detail with `prescriber_name` (None: no prescriber, or none the directory names)."""
    prescriber, name = detail.prescriber_id, None
    if prescriber:
        try:
            found = await access.professional(ProfessionalGet(professional_id=prescriber))
            name = found.name if found.listed else None
        except (Refusal, httpx.HTTPError, ValueError):
            name = None
    return DocumentDetail(**dict(detail), prescriber_name=name)


async def detail(records: RecordsClient, access: AccessClient, query: DocumentQuery,
                 where: str = "query") -> DocumentDetail:
    """One document's detail (as records shows this viewer), its prescriber named."""
    return await named(access, await records.detail(query, where))
