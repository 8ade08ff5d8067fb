"""The use case "the gateway reads a DSP" (after access decided, so the viewer is the gateway's word): a patient's
documents (listed, searched, or as a timeline: `domain.listing`), one document's detail and file (`domain.views`),
whose DSP a document is in (for a read by id that names no patient: access decides next), their titles, an
analyte's history (every result of a LOINC code in the current versions of the active lab results), the status of a
command the gateway sent. A professional never sees a blocked document, not even by its id; a lab result names its
laboratory as the directory lists it (from memory: `laboratories`)."""

from __future__ import annotations

import asyncio
import base64

from schemas.records_api import (
    AnalyteHistories,
    CommandStatus,
    CommandStatusQuery,
    DetailsQuery,
    DocumentDetail,
    DocumentDetails,
    DocumentFile,
    DocumentFileInfo,
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

from ..domain import views
from ..domain.documents import Document, tokens
from ..domain.laboratories import Laboratories
from ..domain.listing import Listing, after
from ..store.protocol import Store

FILES_AT_ONCE = 8  # file reads under way at once for one answer


class Reads:
    def __init__(self, store: Store, laboratories: Laboratories) -> None:
        """`laboratories`: the directory's, in memory, so that a lab result names its laboratory."""
        self.store, self.names = store, laboratories.name

    async def _page(self, patient: str, listing: Listing, cursor: str | None, limit: int) -> DocumentPage:
        """One page after the cursor; `BadCursor` for a cursor this list did not give out."""
        found = listing.page(await self.store.patient_index(patient), after(cursor, listing.order), limit + 1)
        items = found[:limit]
        return DocumentPage(items=[views.summary(d, self.names) for d in items],
                            next_cursor=listing.cursor_after(items[-1]) if len(found) > limit else None)

    async def documents(self, query: DocumentsQuery) -> DocumentPage:
        """Newest first by the query's sort, the withdrawn ones if asked, those holding every searched word."""
        words = tokens(query.q) if query.q is not None else []
        if query.q is not None and not words:  # nothing searchable (one letter, punctuation): nothing found
            return DocumentPage(items=[], next_cursor=None)
        return await self._page(query.patient, Listing(query.sort, True, query.viewer == "professional",
                                                       query.include_withdrawn, tuple(words)),
                                query.cursor, query.limit)

    async def timeline(self, query: TimelineQuery) -> DocumentPage:
        """Oldest first by document date, between the query's start and end."""
        return await self._page(query.patient, Listing("document_date", False, query.viewer == "professional",
                                                       start=query.start, end=query.end), query.cursor, query.limit)

    async def _document(self, query: DocumentQuery) -> Document | None:
        return await self.store.document(query.patient, query.document_id, query.viewer == "professional")

    async def detail(self, query: DocumentQuery) -> DocumentDetail | None:
        """The document, its versions and its file's type and size; None: no such document for this viewer."""
        doc = await self._document(query)
        if doc is None:
            return None
        current = views.attachment(doc, None)
        file = None
        if current is not None:
            file = DocumentFileInfo(content_type=current[1]["content_type"],
                                    size=await self.store.file_size(current[1]["file_id"]))
        return views.detail(doc, file, self.names)

    async def details(self, query: DetailsQuery) -> DocumentDetails:
        """Many documents' details (and files) in one answer: those named, or a page of the patient's list — read
        in one go (`store.some_documents`, `store.file_sizes`), with `detail`'s and `file`'s viewer rules."""
        professional, cursor = query.viewer == "professional", None
        if query.document_ids is not None:
            ids = list(dict.fromkeys(query.document_ids))
        else:
            listing = Listing(query.sort, True, professional, query.include_withdrawn)
            found = listing.page(await self.store.patient_index(query.patient), after(query.cursor, listing.order),
                                 query.limit + 1)
            ids = [e["_id"] for e in found[:query.limit]]
            cursor = listing.cursor_after(found[query.limit - 1]) if len(found) > query.limit else None
        docs = await self.store.some_documents(query.patient, ids, professional) if ids else {}
        shown = [docs[i] for i in ids if i in docs]
        current = {d["_id"]: a for d in shown if (a := views.attachment(d, None)) is not None}
        sizes = await self.store.file_sizes([a[1]["file_id"] for a in current.values()]) if current else {}
        items = [views.detail(d, DocumentFileInfo(content_type=current[d["_id"]][1]["content_type"],
                                                  size=sizes.get(current[d["_id"]][1]["file_id"]))
                              if d["_id"] in current else None, self.names) for d in shown]
        files = await self._files(shown) if query.files else []
        return DocumentDetails(items=items, files=files, missing=[i for i in ids if i not in docs],
                               next_cursor=cursor)

    async def _files(self, docs: list[Document]) -> list[DocumentFile]:
        """Every version's file of these documents, by document then version (read a few at once)."""
        wanted = [(d["_id"], n, found) for d in docs for n in range(1, len(views.stored_versions(d)) + 1)
                  if (found := views.attachment(d, n)) is not None]
        limit = asyncio.Semaphore(FILES_AT_ONCE)

        async def one(file_id: str) -> bytes | None:
            async with limit:
                return await self.store.file(file_id)
        data = await asyncio.gather(*(one(a[1]["file_id"]) for _, _, a in wanted))
        return [DocumentFile(document_id=doc, version=n, content_type=a[1]["content_type"], size=len(raw),
                             data_base64=base64.b64encode(raw).decode())
                for (doc, n, a), raw in zip(wanted, data, strict=True) if raw is not None]

    async def file(self, query: FileQuery) -> DocumentFile | None:
        """A version's file (the current one's by default); None: no such document or file for this viewer."""
        doc = await self._document(query)
        found = views.attachment(doc, query.version) if doc is not None else None
        data = await self.store.file(found[1]["file_id"]) if found is not None else None
        if found is None or data is None:
            return None
        return DocumentFile(document_id=query.document_id, version=found[0], content_type=found[1]["content_type"],
                            size=len(data), data_base64=base64.b64encode(data).decode())

    async def owner(self, query: OwnerQuery) -> DocumentOwner | None:
        """Whose DSP the document is in (blocked or not: access decides next, and refuses a blocked one); None: no
        such document."""
        found = await self.store.owner(query.document_id)
        return DocumentOwner(patient=found) if found is not None else None

    async def titles(self, query: TitlesQuery) -> DocumentTitles:
        return DocumentTitles(titles=await self.store.titles(query.patient, query.ids) if query.ids else {})

    async def values(self, query: ValuesQuery) -> AnalyteHistories:
        """Every result of some analytes (`views.analytes`): the patient's active lab results (a professional's
        without the blocked ones), read whole — one DSP's lab results, a few hundred at most."""
        shown = Listing("document_date", False, query.viewer == "professional").page(
            await self.store.patient_index(query.patient), None, 100_000)
        ids = [e["_id"] for e in shown if e["document_type"] == "lab-result"]
        docs = await self.store.load(ids) if ids else {}
        return AnalyteHistories(histories=views.analytes(query.loinc, list(docs.values()), self.names))

    async def command_status(self, query: CommandStatusQuery) -> CommandStatus:
        """A command's outcome (applied, or rejected with the reason), or pending while none is stored."""
        found = await self.store.outcome(query.command_id, query.patient)
        if found is None:
            return CommandStatus(command_id=query.command_id, status="pending", command=None, document_id=None,
                                 reason=None, at=None)
        return CommandStatus(command_id=query.command_id, status=found["status"], command=found["command"],
                             document_id=found.get("document_id"), reason=found.get("reason"), at=found["at"])
