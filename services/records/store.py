"""records' MongoDB collections. Documents are written field by field ($set), so a patient's block flag
and a laboratory's new version never overwrite each other; every write is idempotent. The read API's queries are
here too: a page is the documents after a cursor's (sort value, id), so paging never skips nor repeats one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gridfs.asynchronous import AsyncGridFSBucket
from gridfs.errors import FileExists, NoFile
from pymongo import ASCENDING, DESCENDING, InsertOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

DUPLICATE_KEY = 11000
LIST_FIELDS = {"versions": 0, "current.observations": 0, "current.event": 0, "event": 0, "tokens": 0}


class RecordsStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.documents = db["documents"]
        self.lab_messages = db["lab_messages"]
        self.persons = db["persons"]
        self.parked = db["parked"]
        self.outbox = db["outbox"]
        self.command_outcomes = db["command_outcomes"]
        self.files = AsyncGridFSBucket(db, bucket_name="files")
        self.file_meta = db["files.files"]

    async def ensure_indexes(self) -> None:
        await self.documents.create_index([("patient_matricule", ASCENDING), ("document_date", DESCENDING)],
                                          name="patient_timeline")
        await self.documents.create_index([("patient_matricule", ASCENDING), ("reported_at", DESCENDING)],
                                          name="patient_latest")
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

    @staticmethod
    def visible(patient: str, professional: bool, include_withdrawn: bool = False) -> dict[str, Any]:
        """A patient's documents that a viewer sees: a professional never a blocked one."""
        query: dict[str, Any] = {"patient_matricule": patient}
        if professional:
            query["blocked"] = False
        if not include_withdrawn:
            query["status"] = "active"
        return query

    async def page(self, query: dict[str, Any], field: str, descending: bool, after: tuple[datetime, str] | None,
                   limit: int) -> list[dict[str, Any]]:
        """Up to `limit` documents matching `query`, sorted by `field` then id, after the position `after`."""
        if after is not None:
            at, doc_id = after
            beyond = {field: {"$lt" if descending else "$gt": at}}
            query = {**query, "$or": [beyond, {field: at, "_id": {"$gt": doc_id}}]}
        sort = [(field, DESCENDING if descending else ASCENDING), ("_id", ASCENDING)]
        return [d async for d in self.documents.find(query, LIST_FIELDS).sort(sort).limit(limit)]

    async def document(self, query: dict[str, Any], doc_id: str) -> dict[str, Any] | None:
        """The document `doc_id` if it matches `query`'s plain equalities (looked up by `_id` alone, the one filter
        FerretDB hands to its index; the owner and visibility are checked here)."""
        found = await self.documents.find_one({"_id": doc_id}, {"tokens": 0, "event": 0})
        return found if found is not None and all(found.get(k) == v for k, v in query.items()) else None

    async def file_size(self, file_id: str) -> int | None:
        found = await self.file_meta.find_one({"_id": file_id}, {"length": 1})
        return int(found["length"]) if found else None

    async def read_file(self, file_id: str) -> bytes | None:
        try:
            stream = await self.files.open_download_stream(file_id)
        except NoFile:
            return None
        return bytes(await stream.read())

    async def titles(self, patient: str, ids: list[str]) -> dict[str, str]:
        found = self.documents.find({"_id": {"$in": sorted(set(ids))}}, {"title": 1, "patient_matricule": 1})
        return {d["_id"]: d["title"] async for d in found if d.get("patient_matricule") == patient}

    async def counts(self) -> dict[str, int]:
        count = self.documents.count_documents
        return {"lab_results_stored": await count({"document_type": "lab-result"}),
                "patient_uploads": await count({"document_type": "patient-upload"}),
                "parked_results": await self.parked.count_documents({})}

    async def record_outcome(self, command_id: str, patient: str, outcome: dict[str, Any]) -> None:
        """A command's outcome, for the sender to poll; the first one stored wins (a redelivery changes nothing)."""
        try:
            await self.command_outcomes.update_one(
                {"_id": command_id}, {"$setOnInsert": {"patient_matricule": patient, **outcome}}, upsert=True)
        except DuplicateKeyError:
            pass

    async def outcome(self, command_id: str, patient: str) -> dict[str, Any] | None:
        found = await self.command_outcomes.find_one({"_id": command_id})  # by _id alone (FerretDB's index)
        return found if found is not None and found.get("patient_matricule") == patient else None

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
