"""The use case "a patient's own documents": upload, block and unblock (commands from the gateway on
records.commands.v1).

The gateway authorises the caller (the owner or a DSP assistant, through access) before it sends a
command; records applies it once: ids are derived from the command id, and the flags are plain $set.
An event's bytes are fixed before it is first sent (with the uploaded document, or in `outbox` for a
visibility change, first write wins): a redelivered command re-sends exactly the same event. Each command's
outcome (applied, or rejected with the reason) is kept for the sender to poll (`/v1/commands/status`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog

from schemas.records import (
    DocumentAddedV1,
    DocumentChange,
    DocumentVisibilityChangedV1,
    SetDocumentBlocked,
    UploadDocument,
)

from ..domain import documents
from ..store.protocol import Store

log = structlog.get_logger("dsp.records")


class PatientDocuments:
    def __init__(self, store: Store, send_event: Callable[..., Awaitable[Any]],
                 clock: Callable[[], datetime], send_visibility: Callable[..., Awaitable[Any]]) -> None:
        self.store, self.send_event, self.clock = store, send_event, clock
        self.send_visibility = send_visibility

    async def apply(self, cmd: UploadDocument | SetDocumentBlocked) -> None:
        """Apply a command once and keep its outcome; a rejection is kept too, then raised (it goes to the DLQ)."""
        doc_id = documents.upload_id(cmd.command_id) if isinstance(cmd, UploadDocument) else cmd.document_id
        outcome = {"command": cmd.command, "document_id": doc_id}
        try:
            if isinstance(cmd, UploadDocument):
                await self.upload(cmd)
            else:
                await self.set_blocked(cmd)
        except documents.Rejected as exc:
            await self.store.record_outcome(cmd.command_id, cmd.patient_matricule,
                                            {**outcome, "status": "rejected", "reason": str(exc), "at": self.clock()})
            raise
        await self.store.record_outcome(cmd.command_id, cmd.patient_matricule,
                                        {**outcome, "status": "applied", "reason": None, "at": self.clock()})

    async def upload(self, cmd: UploadDocument) -> str:
        try:
            data = base64.b64decode(cmd.data_base64, validate=True)
        except binascii.Error:
            raise documents.Rejected("data_base64 is not valid base64") from None
        documents.sniff(cmd.content_type, data)
        doc_id = documents.upload_id(cmd.command_id)
        now = self.clock()
        await self.store.put_file(doc_id, data, cmd.content_type)
        doc: documents.Document = {"_id": doc_id, "document_type": "patient-upload", "author": "patient",
               "patient_matricule": cmd.patient_matricule, "uploaded_by": cmd.uploaded_by, "title": cmd.title,
               "document_date": cmd.document_date or now, "reported_at": now, "status": "active",
               "current": {"attachment": {"file_id": doc_id, "content_type": cmd.content_type}, "size": len(data)},
               "version_count": 1}
        doc["tokens"] = documents.search_words(doc)
        event = DocumentAddedV1(event_id=documents.event_id(doc_id, cmd.command_id), document_id=doc_id,
                                patient_matricule=cmd.patient_matricule, document_type="patient-upload",
                                title=cmd.title, author="patient", document_date=doc["document_date"],
                                change=DocumentChange.ADDED, version=1)
        # the event is fixed with the document, in the same write: a redelivered command re-sends those bytes
        text = await self.store.add_upload(doc, event.model_dump_json())
        await self._send(self.send_event, event.event_id, text, cmd.patient_matricule)
        log.info("patient document uploaded", document_id=doc_id, size=len(data))
        return doc_id

    async def set_blocked(self, cmd: SetDocumentBlocked) -> None:
        blocked = cmd.command == "block-document"
        if not await self.store.set_blocked(cmd.patient_matricule, cmd.document_id, blocked):
            raise documents.Rejected("no such document in this patient's DSP")
        event = DocumentVisibilityChangedV1(event_id=documents.event_id(cmd.document_id, cmd.command_id),
                                            document_id=cmd.document_id, patient_matricule=cmd.patient_matricule,
                                            blocked=blocked, at=self.clock())
        text = await self.store.fix_event(event.event_id, event.model_dump_json())  # the first one sent wins
        await self._send(self.send_visibility, event.event_id, text, cmd.patient_matricule)
        log.info("document blocked" if blocked else "document unblocked", document_id=cmd.document_id)

    @staticmethod
    async def _send(publish: Callable[..., Awaitable[Any]], event_id: str, text: str, matricule: str) -> None:
        await publish(text.encode(), key=matricule.encode(), correlation_id=event_id,
                      headers={"event-id": event_id, "content-type": "application/json"})
