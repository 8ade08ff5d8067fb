"""What the FHIR door does for each read — the same path as a professional's reads at `/v1/pro` (`pro_documents.py`):
access decides first, over HTTP (audited in the patient's Traçabilité, the patient told of a first access), then
records' read API answers as viewer "professional", which never shows a blocked document.

- A search (`Patient`, `DocumentReference`, `DiagnosticReport`, `Observation`) is one decision on the DSP; its
  list is what records shows a professional, filtered here, and `total` is counted on that list — after access's
  filtering, so a blocked document is in no total, no id and no page.
- A read by id (`DocumentReference/{id}`, `DiagnosticReport/{id}`, its `_history`, `Binary/{id}`) stands on its own
  (another token, another replica, after a restart: no search needed first): records says whose DSP the document is
  in (`/v1/documents/owner`), then access decides on that DSP and that document. Every refusal answers the same 404
  as an id that never existed — a document she blocked, a DSP this professional may not read: a 403 would tell
  that the document exists. The refused attempt is in her trail all the same (access audits every decision).
- Ids: the patient's is opaque (`ids.PatientIds`); a document's is its DSP id."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from schemas.access import ActorRef, DecisionRequest
from schemas.fields import check_matricule
from schemas.records_api import (
    DetailsQuery,
    DocumentDetail,
    DocumentFile,
    DocumentQuery,
    DocumentsQuery,
    DocumentSummary,
    FileQuery,
    OwnerQuery,
)

from ..context import Context
from ..problems import Refusal
from . import resources as fhir
from .ids import PatientIds
from .params import BadParameter, Query, dates, reference_id, tokens
from .resources import Json
from .smart import Grant

T = TypeVar("T")
NO_SUCH = "no such resource"  # every refused read by id: unknown, blocked, or in a DSP this professional may not read
PAGE = 100  # records' largest page
DETAILS_AT_ONCE = 200  # documents per records call (its largest)
STATUS = {"current": "active", "entered-in-error": "withdrawn"}
VIEWER = "professional"  # records never shows such a viewer a blocked document


@dataclass
class Reader:
    """One request's reads: on behalf of `grant`'s professional, answering with URLs under `base`."""

    c: Context
    ids: PatientIds
    base: str
    grant: Grant

    # -- decisions and records ------------------------------------------------------------------------------------

    async def decide(self, matricule: str, document: str | None = None) -> None:
        decision = await self.c.clients.access.decide(DecisionRequest(
            actor=ActorRef(kind="professional", id=self.grant.professional), action="read", patient=matricule,
            document=document))
        if not decision.allowed:
            if document:  # whatever the reason: the same answer as no such document
                raise Refusal(404, NO_SUCH)
            raise Refusal(403, decision.reason)

    def matricule(self, pid: str) -> str:
        found = self.ids.matricule(pid)
        if found is None:
            raise Refusal(404, "no such patient")
        return found

    async def owner(self, document: str) -> str:
        """The matricule of the DSP `document` is in (records'), or the 404 of an unknown document."""
        try:
            return (await self.c.clients.records.owner(OwnerQuery(document_id=document))).patient
        except Refusal as refused:
            if refused.problem.status == 404:
                raise Refusal(404, NO_SUCH) from None
            raise

    async def visible(self, matricule: str) -> list[DocumentSummary]:
        """Every document of the DSP a professional may see (newest report first), withdrawn ones included."""
        out: list[DocumentSummary] = []
        cursor: str | None = None
        while True:
            page = await self.c.clients.records.documents(DocumentsQuery(
                patient=matricule, viewer=VIEWER, sort="reported_at", include_withdrawn=True, limit=PAGE,
                cursor=cursor))
            out += page.items
            cursor = page.next_cursor
            if cursor is None:
                return out

    async def detail(self, matricule: str, document: str) -> DocumentDetail:
        return await self.c.clients.records.detail(DocumentQuery(patient=matricule, viewer=VIEWER,
                                                                 document_id=document))

    async def details(self, matricule: str, documents: Sequence[DocumentSummary]) -> list[DocumentDetail]:
        """The documents' details, in their order: records' `/v1/documents/details`, DETAILS_AT_ONCE at a time (a
        document blocked since the list was read is left out, as records leaves it out)."""
        chunks = [documents[i:i + DETAILS_AT_ONCE] for i in range(0, len(documents), DETAILS_AT_ONCE)]
        pages = await asyncio.gather(*(self.c.clients.records.details(DetailsQuery(
            patient=matricule, viewer=VIEWER, document_ids=[d.id for d in chunk])) for chunk in chunks))
        return [d for page in pages for d in page.items]

    def _patient(self, query: Query) -> tuple[str, str]:
        """(opaque id, matricule) of the patient a search names (`patient=` or `subject=`)."""
        named = [v for k in ("patient", "subject") for v in query.values.get(k, [])]
        if len(named) != 1:
            raise BadParameter("name one patient: patient=<Patient id> (find it with Patient?identifier=)")
        pid = reference_id(named[0], "Patient")
        return pid, self.matricule(pid)

    def _page(self, query: Query, path: str, shown: Sequence[Json], total: int) -> Json:
        """A searchset of `shown` (already this page's), `total` matches, a `next` link if more follow."""
        count, offset = query.count(), query.offset()
        following = offset + count if count and offset + count < total else None
        return fhir.searchset(shown, total, self.base, query.url(self.base, path),
                              query.url(self.base, path, _offset=following) if following is not None else None)

    # -- searches -------------------------------------------------------------------------------------------------

    async def patients(self, query: Query) -> Json:
        given = query.one("identifier") or query.one("_id")
        if given is None:
            raise BadParameter("search a patient by identifier=urn:dsp-mesh:fhir:sid:matricule|<matricule>")
        if "identifier" in query.values:
            system, _, value = given.rpartition("|")
            if system not in ("", fhir.MATRICULE_SYSTEM):
                raise BadParameter(f"a patient's identifier system is {fhir.MATRICULE_SYSTEM}")
            try:
                matricule = check_matricule(value)
            except ValueError:
                raise BadParameter("not a valid matricule") from None
        else:
            matricule = self.matricule(given)
        await self.decide(matricule)
        pid = self.ids.of(matricule)
        linked = Query({k: v for k, v in query.values.items() if k != "identifier"})  # no matricule in a link
        return self._page(linked, "Patient", window(query, [fhir.patient(pid, matricule)]), 1)

    async def document_references(self, query: Query) -> Json:
        pid, matricule = self._patient(query)
        when, kind = dates(query), tokens(query, "type")
        statuses = {s for v in query.values.get("status", []) for s in v.split(",")}
        if statuses - set(STATUS):
            raise BadParameter("status is current or entered-in-error")
        await self.decide(matricule)
        docs = [d for d in await self.visible(matricule)
                if when(d.reported_at) and kind(fhir.LOINC, fhir.TYPES[d.document_type][0])
                and (not statuses or d.status in {STATUS[s] for s in statuses})]
        return self._page(query, "DocumentReference",
                          [fhir.document_reference(d, pid) for d in window(query, docs)], len(docs))

    async def diagnostic_reports(self, query: Query) -> Json:
        pid, matricule = self._patient(query)
        when = dates(query)
        statuses = {s for v in query.values.get("status", []) for s in v.split(",")}
        await self.decide(matricule)
        labs = [d for d in await self.visible(matricule) if d.document_type == "lab-result"]
        if query.values.get("date") or statuses:  # the filters read the reports themselves
            reports = [r for r in (self._current(d, pid) for d in await self.details(matricule, labs))
                       if when(_effective(r)) and (not statuses or r["status"] in statuses)]
            return self._page(query, "DiagnosticReport", window(query, reports), len(reports))
        shown = await self.details(matricule, window(query, labs))  # only the page's reports are read
        return self._page(query, "DiagnosticReport", [self._current(d, pid) for d in shown], len(labs))

    async def observations(self, query: Query) -> Json:
        pid, matricule = self._patient(query)
        when, code = dates(query), tokens(query, "code")
        await self.decide(matricule)
        labs = [d for d in await self.visible(matricule) if d.document_type == "lab-result"]
        values = [o for doc in await self.details(matricule, labs)
                  for o in fhir.report_observations(doc, fhir.current_version(doc), pid)
                  if any(code(c.get("system"), c["code"]) for c in o["code"]["coding"])
                  and when(_effective(o) or _instant(o["issued"]))]
        return self._page(query, "Observation", window(query, values), len(values))

    @staticmethod
    def _current(doc: DocumentDetail, pid: str) -> Json:
        return fhir.diagnostic_report(doc, fhir.current_version(doc), pid)

    # -- reads by id ----------------------------------------------------------------------------------------------

    async def patient(self, pid: str) -> Json:
        matricule = self.matricule(pid)
        await self.decide(matricule)
        return fhir.patient(pid, matricule)

    async def _document(self, document: str) -> tuple[str, DocumentDetail]:
        matricule = await self.owner(document)
        await self.decide(matricule, document)
        return self.ids.of(matricule), await self.detail(matricule, document)

    async def document_reference(self, document: str) -> Json:
        pid, doc = await self._document(document)
        return fhir.document_reference(doc, pid)

    async def report(self, document: str, version: str | None = None) -> Json:
        pid, doc = await self._lab(document)
        if version is None:
            return self._current(doc, pid)
        found = next((v for v in doc.versions if str(v.version) == version), None)
        if found is None:
            raise Refusal(404, "no such version of this report")
        return fhir.diagnostic_report(doc, found, pid)

    async def history(self, document: str) -> Json:
        pid, doc = await self._lab(document)
        return fhir.history(doc, pid, self.base)

    async def _lab(self, document: str) -> tuple[str, DocumentDetail]:
        pid, doc = await self._document(document)
        if doc.document_type != "lab-result":
            raise Refusal(404, "no such resource (this document is not a laboratory report)")
        return pid, doc

    async def binary(self, binary_id: str) -> DocumentFile:
        document, _, version = binary_id.rpartition("-v")
        if not document or not version.isdigit() or not 1 <= int(version) <= 10_000:
            raise Refusal(404, NO_SUCH)
        matricule = await self.owner(document)
        await self.decide(matricule, document)
        return await self.c.clients.records.file(FileQuery(patient=matricule, viewer=VIEWER, document_id=document,
                                                           version=int(version)))


def window(query: Query, items: Sequence[T]) -> list[T]:
    """The items of the page a search asks for (`_offset`, `_count`)."""
    count, offset = query.count(), query.offset()
    return list(items[offset:offset + count]) if count else []


def _effective(resource: Json) -> datetime | None:
    found = resource.get("effectiveDateTime")
    return _instant(found) if found else None


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
