"""Which in-app notice a document event deserves (`document_notice`), and in which language. Pure."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from schemas.notify import Locale
from schemas.records import DocumentAddedV1, DocumentChange

NOTICES = uuid.UUID("3c5e8a1f-6d2b-5f47-a0e9-1b7c4d8e2f63")


@dataclass(frozen=True)
class DocumentNotice:
    id: str
    template: str
    parameters: dict[str, str]


class BadEvent(ValueError):
    """The document event breaks a rule its contract cannot state; the reason goes to the dead-letter topic."""


def document_notice(event: DocumentAddedV1, key: bytes | None) -> DocumentNotice | None:
    """The in-app notice the patient gets for this document event, or None.

    A new document and a correction each get one; a withdrawal only when the document had been shown before
    (version > 1: the patient may have read what is now withdrawn) — one withdrawn on arrival was never shown
    (withdrawn documents are left out of the lists), so there is nothing to take back. The notice's id derives
    from the event id: a redelivered event is the same notice."""
    if not event.event_id.strip():
        raise BadEvent("event_id: must not be empty")
    if key != event.patient_matricule.encode():
        raise BadEvent("message key does not match the value's patient_matricule")
    notice_id = f"doc-{uuid.uuid5(NOTICES, event.event_id)}"
    if event.change is DocumentChange.ADDED:
        return DocumentNotice(notice_id, "document-added", {"title": event.title})
    if event.change is DocumentChange.CORRECTED:
        return DocumentNotice(notice_id, "document-corrected", {"title": event.title, "version": str(event.version)})
    if event.version > 1:
        return DocumentNotice(notice_id, "document-withdrawn", {"title": event.title})
    return None


def locale_of(known: object) -> Locale:
    """The language a person last asked for (kept on her contact), else French."""
    try:
        return Locale(known) if isinstance(known, str) else Locale.FR
    except ValueError:
        return Locale.FR
