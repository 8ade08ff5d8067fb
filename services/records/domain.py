"""Pure domain of the records service: a validated lab result becomes a stored DSP document. No I/O."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.lab_result import LabResultKey, LabResultV1

RESULT_NAMESPACE = uuid.UUID("6f1d9c3e-2b7a-5e41-9c0d-4a8e7f2b1d30")


class KeyMismatch(ValueError):
    """The Kafka key does not name the report carried in the value."""


def result_id(laboratory_id: str, message_id: str) -> str:
    """Deterministic id of a stored result: the same (laboratory, message id) always maps to the same id."""
    return str(uuid.uuid5(RESULT_NAMESPACE, f"{laboratory_id}\x1f{message_id}"))


def check_key(key: LabResultKey, result: LabResultV1) -> None:
    if (key.laboratory_id, key.report_id) != (result.laboratory_id, result.report_id):
        raise KeyMismatch("message key does not match the value's laboratory_id:report_id")


@dataclass(frozen=True)
class StoredResult:
    document: dict[str, Any]
    attachment: bytes | None


def to_document(result: LabResultV1, received_at: datetime) -> StoredResult:
    """The DSP document for one lab result; the attachment's bytes travel separately (GridFS)."""
    rid = result_id(result.laboratory_id, result.message_id)
    data = base64.b64decode(result.attachment.data_base64) if result.attachment else None
    document = {
        "_id": rid,
        "laboratory_id": result.laboratory_id,
        "message_id": result.message_id,
        "report_id": result.report_id,
        "status": result.status.value,
        "patient_matricule": result.patient_matricule,
        "prescriber_id": result.prescriber_id,
        "document_type": "lab-result",
        "title": result.title or "Résultats de laboratoire",
        "collected_at": result.collected_at,
        "reported_at": result.reported_at,
        "received_at": received_at,
        "observations": [o.model_dump(mode="json", exclude_none=True) for o in result.observations],
        "attachment": None if data is None else {
            "file_id": rid, "content_type": result.attachment.content_type if result.attachment else None,
            "size": len(data),
        },
    }
    return StoredResult(document=document, attachment=data)
