"""Pure domain of notify: the contact facts it keeps from the registry, and which notice a document event
deserves. No I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from schemas.records import DocumentAddedV1, DocumentChange
from schemas.registry import PersonRegisteredV1

NOTICES = uuid.UUID("3c5e8a1f-6d2b-5f47-a0e9-1b7c4d8e2f63")


def contact_fields(person: PersonRegisteredV1) -> dict[str, Any]:
    """Where a person can be reached: the letter's address, the registry's e-mail and mobile."""
    return {
        "given_name": person.given_name,
        "family_name": person.family_name,
        "postal_address": person.postal_address.model_dump(mode="json", exclude_none=True),
        "email": person.email,
        "mobile": person.mobile,
        "last_message_id": person.message_id,
    }


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
