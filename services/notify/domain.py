"""Pure domain of notify: the contact facts it keeps from the registry and from activation (the channel a person
chose), where an alert on her own channel goes, and which notice a document event deserves. No I/O."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas.activation import AccountActivatedV1
from schemas.notify import Channel
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


def chosen_channel(event: AccountActivatedV1) -> dict[str, Any] | None:
    """What notify keeps of an activation: the channel the person chose for her codes and the address she chose
    on it (None: the event does not say, e.g. one published before it did)."""
    if event.channel is None:
        return None
    return {"channel": event.channel, "address": event.destination}


def preferred(contact: Mapping[str, Any]) -> tuple[Channel, str] | None:
    """Where an alert on the person's own channel goes: the e-mail or SMS she chose at activation (the address she
    chose, else the registry's on that channel), else the registry's e-mail, else its mobile; None: notify knows
    no way to reach her but the portal."""
    chosen = contact.get("preferred") or {}
    kind = chosen.get("channel")
    if kind in (Channel.EMAIL, Channel.SMS):
        address = chosen.get("address") or contact.get("email" if kind == Channel.EMAIL else "mobile")
        if address:
            return Channel(kind), str(address)
    if contact.get("email"):
        return Channel.EMAIL, str(contact["email"])
    if contact.get("mobile"):
        return Channel.SMS, str(contact["mobile"])
    return None


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
