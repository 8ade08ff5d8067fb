"""records' MongoDB collections. Documents are written field by field ($set), so a patient's block flag
and a laboratory's new version never overwrite each other; every write is idempotent."""

from __future__ import annotations

from typing import Any

from gridfs.asynchronous import AsyncGridFSBucket
from gridfs.errors import FileExists
from pymongo import ASCENDING, DESCENDING, InsertOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

DUPLICATE_KEY = 11000


class RecordsStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.documents = db["documents"]
        self.lab_messages = db["lab_messages"]
        self.persons = db["persons"]
        self.parked = db["parked"]
        self.outbox = db["outbox"]
        self.files = AsyncGridFSBucket(db, bucket_name="files")

    async def ensure_indexes(self) -> None:
        await self.documents.create_index([("patient_matricule", ASCENDING), ("document_date", DESCENDING)],
                                          name="patient_timeline")
        await self.documents.create_index([("patient_matricule", ASCENDING), ("tokens", ASCENDING)],
                                          name="patient_keywords")
        await self.documents.create_index([("laboratory_id", ASCENDING), ("report_id", ASCENDING)],
                                          name="lab_report")
        await self.parked.create_index([("patient_matricule", ASCENDING)], name="parked_by_patient")

    async def load(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        return {d["_id"]: d async for d in self.documents.find({"_id": {"$in": ids}})}

    async def save_documents(self, docs: list[dict[str, Any]]) -> None:
        ops = [UpdateOne({"_id": d["_id"]}, {"$set": {k: v for k, v in d.items() if k != "_id"},
                                             "$setOnInsert": {"blocked": False}}, upsert=True) for d in docs]
        if ops:
            await self.documents.bulk_write(ops, ordered=False)

    async def insert_new_documents(self, docs: list[dict[str, Any]]) -> set[str]:
        """Insert documents never seen before; returns the ids that already existed (to load and update)."""
        return await insert_new(self.documents, [{**d, "blocked": False} for d in docs])

    async def claim_messages(self, owners: dict[str, str]) -> dict[str, str]:
        """Record (laboratory, message id) -> document id; returns the earlier owner of each id already claimed."""
        seen = await insert_new(self.lab_messages, [{"_id": k, "document_id": v} for k, v in owners.items()])
        if not seen:
            return {}
        return {m["_id"]: m["document_id"] async for m in self.lab_messages.find({"_id": {"$in": sorted(seen)}})}

    async def fix_event(self, event_id: str, text: str) -> str:
        """The event's bytes, fixed by the first attempt to send it (a unique-_id insert); later ones reuse them."""
        if not await insert_new(self.outbox, [{"_id": event_id, "event": text}]):
            return text
        stored = await self.outbox.find_one({"_id": event_id})
        return str(stored["event"]) if stored else text

    async def put_file(self, file_id: str, data: bytes, content_type: str) -> None:
        try:
            await self.files.upload_from_stream_with_id(file_id, file_id, data, metadata={"content_type": content_type})
        except (FileExists, DuplicateKeyError):
            pass  # stored before a crash: the same bytes under the same deterministic id

    async def known_persons(self, matricules: set[str]) -> set[str]:
        return {p["_id"] async for p in self.persons.find({"_id": {"$in": sorted(matricules)}}, {"_id": 1})}

    async def add_person(self, matricule: str) -> None:
        await self.persons.update_one({"_id": matricule}, {"$setOnInsert": {"known": True}}, upsert=True)

    async def park(self, entries: list[dict[str, Any]]) -> None:
        await insert_new(self.parked, entries)

    async def parked_for(self, matricule: str) -> list[dict[str, Any]]:
        return [p async for p in self.parked.find({"patient_matricule": matricule}).sort("_id", ASCENDING)]

    async def unpark(self, ids: list[str]) -> None:
        await self.parked.delete_many({"_id": {"$in": ids}})


async def insert_new(collection: Any, docs: list[dict[str, Any]]) -> set[str]:
    """One unordered insert; the _ids that were already there are returned, not raised (idempotent writes)."""
    if not docs:
        return set()
    try:
        await collection.bulk_write([InsertOne(d) for d in docs], ordered=False)
    except BulkWriteError as exc:
        errors = exc.details["writeErrors"]
        if any(e["code"] != DUPLICATE_KEY for e in errors):
            raise
        return {docs[e["index"]]["_id"] for e in errors}
    return set()
