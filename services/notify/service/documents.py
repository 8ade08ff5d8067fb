"""The use case "a document event becomes an in-app notice": one per new, corrected or (once shown) withdrawn
document, from `records.document-added.v1`, in the patient's language when notify knows it (else French).

The notice is stored ready to read (status delivered) under an id derived from the event id, in one insert,
then listed on the person's inbox: a redelivered event finds it there and adds nothing (it lists it again, as
first stored: a no-op, or the repair of a crash between the two writes). An event that breaks a rule goes to
the dead-letter topic with the reason; nothing about the document is logged but its id."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog

from schemas.records import DocumentAddedV1
from schemas.topics import DOCUMENT_ADDED
from services.kit.errors import BadMessage

from ..domain import templates
from ..domain.notices import BadEvent, document_notice, locale_of
from ..store.protocol import Store

log = structlog.get_logger("dsp.notify.documents")


class DocumentNotices:
    def __init__(self, store: Store, clock: Callable[[], datetime], pseudonym: Callable[[str], str]) -> None:
        self.store, self.clock, self.pseudonym = store, clock, pseudonym

    async def handle(self, event: DocumentAddedV1, key: bytes | None) -> None:
        try:
            notice = document_notice(event, key)
        except BadEvent as exc:
            raise BadMessage(str(exc)) from exc
        if notice is None:
            log.info("document withdrawn before it was shown: no notice", document_id=event.document_id)
            return
        locale = locale_of((await self.store.contact(event.patient_matricule)).get("locale"))
        subject, body = templates.render(notice.template, locale, notice.parameters)
        now = self.clock()
        added = await self.store.add_notice({
            "_id": notice.id, "channel": "inapp", "template_id": notice.template, "locale": locale.value,
            "recipient": event.patient_matricule, "parameters": notice.parameters, "status": "delivered",
            "attempts": 1, "received_at": now, "delivered_at": now, "read": False, "subject": subject, "body": body,
            "source": {"topic": DOCUMENT_ADDED.name, "event_id": event.event_id, "document_id": event.document_id,
                       "change": event.change.value, "version": event.version}})
        log.info("document notice stored" if added else "duplicate document event ignored", notice_id=notice.id,
                 template_id=notice.template, document_id=event.document_id,
                 patient_ref=self.pseudonym(event.patient_matricule))

