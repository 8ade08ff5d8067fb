"""records' patient-document and read use cases over its in-memory store (tests/fakes/records.py): an upload stored
once with its event fixed, listed and readable with its file; a block hides it from professionals (by list and by
id; whose DSP it is in is still answered, for access to decide on) and is sent once; a rejected command keeps its
outcome; a list pages by its cursor and refuses another list's; many details and files in one answer say what the
single reads say, with the same viewer rules.
The real Kafka and FerretDB paths are tests/integration/test_records*.py."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from schemas.records import SetDocumentBlocked, UploadDocument
from schemas.records_api import (
    CommandStatusQuery,
    DetailsQuery,
    DocumentOwner,
    DocumentQuery,
    DocumentsQuery,
    FileQuery,
    OwnerQuery,
    TimelineQuery,
    TitlesQuery,
)
from services.kit.paging import BadCursor
from services.records.domain.documents import Rejected, upload_id
from services.records.domain.laboratories import Laboratories
from services.records.service.patient_documents import PatientDocuments
from services.records.service.reads import Reads
from services.records.service.stats import Stats
from tests.fakes.records import PATIENT, MemoryStore
from tests.inprocess import FakeClock
from tests.support import make_matricule

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
OTHER = make_matricule(date(1975, 3, 9), 12)


class Sent:
    """records' publishers' stand-in: (bytes, key, headers) per event sent, in order (its correlation id is the
    event id, checked)."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes, dict[str, str]]] = []

    async def __call__(self, body: bytes, *, key: bytes, correlation_id: str, headers: dict[str, str]) -> None:
        assert correlation_id == headers["event-id"]
        self.sent.append((body, key, headers))


class World:
    def __init__(self) -> None:
        self.store, self.clock = MemoryStore(), FakeClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
        self.events, self.visibility = Sent(), Sent()
        self.documents = PatientDocuments(self.store, self.events, self.clock, self.visibility)
        self.reads = Reads(self.store, Laboratories())

    async def upload(self, command_id: str, title: str, data: bytes = PDF) -> str:
        self.clock.advance(minutes=1)
        await self.documents.apply(UploadDocument(
            command_id=command_id, patient_matricule=PATIENT, uploaded_by=PATIENT, title=title,
            content_type="application/pdf", data_base64=base64.b64encode(data).decode()))
        return upload_id(command_id)


async def test_an_upload_is_stored_once_listed_and_read_with_its_file_its_event_fixed() -> None:
    w = World()
    doc_id = await w.upload("c-1", "Ordonnance Dr Weber")
    await w.upload("c-1", "Ordonnance Dr Weber")  # redelivered: the same document, the same event bytes
    assert len(w.store.docs) == 1 and len(w.events.sent) == 2 and w.events.sent[0] == w.events.sent[1]
    body, key, headers = w.events.sent[0]
    event = json.loads(body)
    assert (event["document_id"], event["change"], key) == (doc_id, "added", PATIENT.encode())
    assert headers["event-id"] == event["event_id"]

    page = await w.reads.documents(DocumentsQuery(patient=PATIENT))
    assert [(d.id, d.title, d.has_file) for d in page.items] == [(doc_id, "Ordonnance Dr Weber", True)]
    assert [d.id for d in (await w.reads.documents(DocumentsQuery(patient=PATIENT, q="weber"))).items] == [
        doc_id]
    assert (await w.reads.documents(DocumentsQuery(patient=PATIENT, q="x"))).items == []  # nothing searchable
    detail = await w.reads.detail(DocumentQuery(patient=PATIENT, document_id=doc_id))
    assert detail is not None and detail.file is not None and detail.file.size == len(PDF)
    file = await w.reads.file(FileQuery(patient=PATIENT, document_id=doc_id))
    assert file is not None and base64.b64decode(file.data_base64) == PDF and file.version == 1
    assert await w.reads.detail(DocumentQuery(patient=OTHER, document_id=doc_id)) is None  # not in her DSP
    assert (await w.reads.titles(TitlesQuery(patient=PATIENT, ids=[doc_id, "nope"]))).titles == {
        doc_id: "Ordonnance Dr Weber"}
    status = await w.reads.command_status(CommandStatusQuery(patient=PATIENT, command_id="c-1"))
    assert (status.status, status.document_id) == ("applied", doc_id)
    assert (await w.reads.command_status(CommandStatusQuery(patient=PATIENT, command_id="c-2"))).status == "pending"
    assert (await Stats(w.store).counts()).patient_uploads == 1


async def test_a_block_hides_the_document_from_professionals_and_is_sent_once_a_bad_command_kept_rejected() -> None:
    w = World()
    doc_id = await w.upload("c-1", "Radiographie")
    block = SetDocumentBlocked(command="block-document", command_id="b-1", patient_matricule=PATIENT,
                               requested_by=PATIENT, document_id=doc_id)
    await w.documents.apply(block)
    w.clock.advance(minutes=5)
    await w.documents.apply(block)  # redelivered: the event first fixed, byte for byte
    assert len(w.visibility.sent) == 2 and w.visibility.sent[0] == w.visibility.sent[1]
    assert json.loads(w.visibility.sent[0][0])["blocked"] is True
    assert (await w.reads.documents(DocumentsQuery(patient=PATIENT, viewer="professional"))).items == []
    assert await w.reads.detail(DocumentQuery(patient=PATIENT, document_id=doc_id, viewer="professional")) is None
    assert await w.reads.file(FileQuery(patient=PATIENT, document_id=doc_id, viewer="professional")) is None
    shown = await w.reads.documents(DocumentsQuery(patient=PATIENT))
    assert [(d.id, d.blocked) for d in shown.items] == [(doc_id, True)]  # the patient still sees it
    # whose DSP it is in, blocked or not (access decides on it next, and refuses it); an unknown id: none
    assert await w.reads.owner(OwnerQuery(document_id=doc_id)) == DocumentOwner(patient=PATIENT)
    assert await w.reads.owner(OwnerQuery(document_id="no-such-document")) is None

    with pytest.raises(Rejected, match="no such document"):
        await w.documents.apply(SetDocumentBlocked(command="unblock-document", command_id="b-2",
                                                   patient_matricule=PATIENT, requested_by=PATIENT,
                                                   document_id="someone-elses"))
    status = await w.reads.command_status(CommandStatusQuery(patient=PATIENT, command_id="b-2"))
    assert (status.status, status.reason) == ("rejected", "no such document in this patient's DSP")
    with pytest.raises(Rejected, match="not the declared application/pdf"):
        await w.upload("c-9", "Not a PDF", b"hello")


async def test_a_list_pages_by_its_cursor_and_refuses_a_cursor_of_another_list() -> None:
    w = World()
    ids = [await w.upload(f"c-{i}", f"Document {i}") for i in range(5)]
    found, cursor = [], None
    while True:
        page = await w.reads.documents(DocumentsQuery(patient=PATIENT, sort="reported_at", limit=2, cursor=cursor))
        found += [d.id for d in page.items]
        if (cursor := page.next_cursor) is None:
            break
    assert found == ids[::-1]  # newest first, each once
    first = await w.reads.documents(DocumentsQuery(patient=PATIENT, limit=2))
    with pytest.raises(BadCursor):
        await w.reads.timeline(TimelineQuery(patient=PATIENT, start=datetime(2026, 1, 1, tzinfo=UTC),
                                             end=datetime(2027, 1, 1, tzinfo=UTC), cursor=first.next_cursor))


async def test_many_details_and_files_in_one_answer_say_what_the_single_reads_say_with_the_same_viewer_rules() -> None:
    w = World()
    ids = [await w.upload(f"c-{i}", f"Document {i}", PDF + str(i).encode()) for i in range(5)]
    await w.documents.apply(SetDocumentBlocked(command="block-document", command_id="b-1", patient_matricule=PATIENT,
                                               requested_by=PATIENT, document_id=ids[1]))
    single = {i: await w.reads.detail(DocumentQuery(patient=PATIENT, document_id=i)) for i in ids}
    files = {i: await w.reads.file(FileQuery(patient=PATIENT, document_id=i)) for i in ids}

    found, cursor, pages = [], None, 0  # all of her DSP, two at a time, files included
    while True:
        page = await w.reads.details(DetailsQuery(patient=PATIENT, limit=2, cursor=cursor, files=True))
        assert [f.document_id for f in page.files] == [d.id for d in page.items] and page.missing == []
        found += list(zip(page.items, page.files, strict=True))
        pages += 1
        if (cursor := page.next_cursor) is None:
            break
    assert pages == 3 and [d.id for d, _ in found] == ids[::-1]  # newest first, each once, the blocked one too
    assert all(d == single[d.id] and f == files[d.id] for d, f in found)

    asked = [ids[3], "unknown-doc", ids[1], ids[0], ids[3]]  # named: answered in that order, each once
    named = await w.reads.details(DetailsQuery(patient=PATIENT, document_ids=asked, viewer="professional"))
    assert [d.id for d in named.items] == [ids[3], ids[0]] and named.files == [] and named.next_cursor is None
    assert named.missing == ["unknown-doc", ids[1]]  # the blocked one is not shown to a professional, not even named
    assert [d.id for d in (await w.reads.details(DetailsQuery(patient=PATIENT, viewer="professional"))).items] == [
        i for i in ids[::-1] if i != ids[1]]
    assert (await w.reads.details(DetailsQuery(patient=OTHER, document_ids=ids))).items == []  # not in her DSP
    with pytest.raises(ValidationError, match="without document_ids"):
        DetailsQuery(patient=PATIENT, document_ids=ids, cursor=page.next_cursor or "x")
    with pytest.raises(ValidationError):
        DetailsQuery(patient=PATIENT, document_ids=[f"d-{n}" for n in range(201)])
    with pytest.raises(BadCursor):
        await w.reads.details(DetailsQuery(patient=PATIENT, sort="reported_at", cursor=(
            await w.reads.details(DetailsQuery(patient=PATIENT, limit=1))).next_cursor))
