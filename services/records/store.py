"""records' MongoDB collections: `lab_results` (unique on laboratory + message id) and GridFS `attachments`."""

from __future__ import annotations

from typing import Any

from gridfs.asynchronous import AsyncGridFSBucket
from gridfs.errors import FileExists
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from .domain import StoredResult


class ResultStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.results = db["lab_results"]
        self.attachments = AsyncGridFSBucket(db, bucket_name="attachments")

    async def ensure_indexes(self) -> None:
        await self.results.create_index([("laboratory_id", ASCENDING), ("message_id", ASCENDING)],
                                        unique=True, name="one_per_lab_message")
        await self.results.create_index([("patient_matricule", ASCENDING), ("reported_at", DESCENDING)],
                                        name="patient_timeline")
        await self.results.create_index([("laboratory_id", ASCENDING), ("report_id", ASCENDING)],
                                        name="report_versions")

    async def save(self, stored: StoredResult) -> bool:
        """Store once: True if stored now, False if this (laboratory, message id) was already stored."""
        doc = stored.document
        if stored.attachment is not None:
            try:
                await self.attachments.upload_from_stream_with_id(
                    doc["_id"], f"{doc['_id']}.bin", stored.attachment,
                    metadata={"content_type": doc["attachment"]["content_type"]})
            except (FileExists, DuplicateKeyError):
                pass  # a redelivery after a crash between the two writes
        try:
            await self.results.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True
