"""A batch's versions of one document, folded in partition order, and the events they cause. Pure: no I/O.

Exactly once, as a consumer sees it: the event a message causes is fixed when the message is first applied,
inside the document write itself (the version carries it), and a redelivery re-sends those stored bytes; so one
event id is always one content, and one (document, version) always one event id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from schemas.lab_result import LabResultV1
from schemas.records import DocumentAddedV1, DocumentChange

from . import documents
from .provenance import Provenance


@dataclass(frozen=True)
class Arrival:
    """A valid lab result, when its laboratory published it (the Kafka record's time), and who signed it."""

    result: LabResultV1
    published_at: datetime
    provenance: Provenance | None = None


@dataclass(frozen=True)
class Event:
    event_id: str
    text: str  # the document-added event's JSON, as first sent
    patient: str  # its key: the patient the version named (the document's patient when the event was made)


@dataclass(frozen=True)
class Fold:
    doc: documents.Document
    events: list[Event]  # to send, in order
    added: int  # versions new to the document


def fold(doc: documents.Document | None, arrivals: Sequence[Arrival], now: datetime) -> Fold:
    """Apply a document's versions in order. A version already stored sends its stored event again, byte for byte:
    it may not have gone out."""
    events: list[Event] = []
    added = 0
    for arrival in arrivals:
        r = arrival.result
        version = documents.to_version(r, now, arrival.published_at,
                                    arrival.provenance.stored() if arrival.provenance else None)
        new, change = documents.apply(doc, r.laboratory_id, r.report_id, version)
        if new is not doc:  # a new current version, or an older one joining the history (no event)
            version["change"] = change.value if change else None
            if change is not None:  # fixed now, with the document as this message leaves it
                version["event"] = event(new, change, r.message_id)
            doc, added = new, added + 1
        stored = next(v for v in new["versions"] if v["message_id"] == r.message_id)
        if stored.get("change"):
            text = stored.get("event") or legacy_event(new, stored)
            events.append(Event(documents.event_id(new["_id"], r.message_id), text, stored["patient_matricule"]))
    if doc is None:
        raise ValueError("nothing to fold")
    return Fold(doc, events, added)


def event(doc: documents.Document, change: DocumentChange, message_id: str) -> str:
    # built from a document this worker has just validated: no second validation on the hot path
    return DocumentAddedV1.model_construct(
        event_id=documents.event_id(doc["_id"], message_id), document_id=doc["_id"],
        patient_matricule=doc["patient_matricule"], document_type="lab-result", title=doc["title"],
        author=doc["author"], document_date=doc["document_date"], change=change,
        version=doc["version_count"]).model_dump_json()


def legacy_event(doc: documents.Document, version: documents.Version) -> str:
    """A version stored before events were kept with it: rebuilt from that version alone (when it was applied it
    was the current one), never from the document's current state."""
    return DocumentAddedV1.model_construct(
        event_id=documents.event_id(doc["_id"], version["message_id"]), document_id=doc["_id"],
        patient_matricule=version["patient_matricule"], document_type="lab-result", title=version["title"],
        author=doc["author"], document_date=version["collected_at"],
        change=DocumentChange(str(version.get("change"))), version=1 + doc["versions"].index(version)).model_dump_json()
