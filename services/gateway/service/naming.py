"""A document's detail with its prescriber named, as the directory of professionals lists them (access's copy of
it, `AccessClient.professional`): what the patient and the professional read rather than an id. A directory that
does not answer leaves the name out (the document is still served, its `prescriber_id` kept). A name the directory
gave is remembered for `REMEMBER_S` in the gateway's process (`Context.prescriber_names`): a document page does not
ask access each time (a directory change shows within five minutes); no answer is not remembered."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from schemas.access import ProfessionalGet
from schemas.portal_documents import DocumentDetail
from schemas.records_api import DocumentDetail as RecordsDetail
from schemas.records_api import DocumentQuery

from ..clients import AccessClient, RecordsClient
from ..problems import Refusal

REMEMBER_S, REMEMBERED = 300.0, 10_000
Names = dict[str, tuple[float, str | None]]  # prescriber id -> (remembered until, on `now`'s clock; the name)


async def named(access: AccessClient, detail: RecordsDetail, remembered: Names | None = None,
                now: Callable[[], float] = time.monotonic) -> DocumentDetail:
    """records' document detail with `prescriber_name` (None: no prescriber, or none the directory names)."""
    prescriber, name = detail.prescriber_id, None
    if prescriber:
        known = remembered.get(prescriber) if remembered is not None else None
        if known is not None and known[0] > now():
            return DocumentDetail(**dict(detail), prescriber_name=known[1])
        try:
            found = await access.professional(ProfessionalGet(professional_id=prescriber))
            name = found.name if found.listed else None
        except (Refusal, httpx.HTTPError, ValueError):
            return DocumentDetail(**dict(detail), prescriber_name=None)  # not remembered: asked again next time
        if remembered is not None:
            if len(remembered) >= REMEMBERED:
                remembered.clear()
            remembered[prescriber] = (now() + REMEMBER_S, name)
    return DocumentDetail(**dict(detail), prescriber_name=name)


async def detail(records: RecordsClient, access: AccessClient, query: DocumentQuery, where: str = "query",
                 remembered: Names | None = None) -> DocumentDetail:
    """One document's detail (as records shows this viewer), its prescriber named."""
    return await named(access, await records.detail(query, where), remembered)
