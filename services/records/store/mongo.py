"""records' MongoDB collections. Documents are written field by field ($set), so a patient's block flag
and a laboratory's new version never overwrite each other; every write is idempotent. Every read on the hot path
is by `_id`: a patient's list, search and timeline read the patient's entries by an `_id` prefix range
(`listing`), written after the documents they list (a redelivery writes them again, so a crash in between is
repaired).

A document is stored without what it repeats (`shape`); its files are in GridFS (`files`)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.kit.projection import insert_many_once

from ..domain import documents, listing
from ..domain.documents import Document
from .files import Files
from .shape import DERIVED, loaded, stored

KNOWN_MAX = 200_000  # registered persons remembered (~20 MiB at most)


class RecordsStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.documents = db["documents"]
        self.index = db["patient_documents"]  # _id: <matricule>|<document id> (see listing)
        self.lab_messages = db["lab_messages"]
        self.persons = db["persons"]
        self.parked = db["parked"]
        self.outbox = db["outbox"]
        self.command_outcomes = db["command_outcomes"]
        self.laboratories = db["laboratories"]  # _id: laboratory id; its name and keys (laboratories.Laboratory)
        self.awaiting_key = db["awaiting_key"]  # _id: <kid>|<digest>; results signed with a key not announced yet
        self.files = Files(db)
        self._known: set[str] = set()  # persons found: the registry never withdraws one from records

    async def ensure_indexes(self) -> None:
        await self.parked.create_index([("patient_matricule", ASCENDING)], name="parked_by_patient")
        # documents stored before the index existed: one scan, once (an empty filter with a limit reads one row;
        # a count would decode every document on FerretDB)
        if await self.documents.find_one({}, {"_id": 1}) and not await self.index.find_one({}, {"_id": 1}):
            await self.rebuild_index()

    async def rebuild_index(self) -> None:
        docs = [loaded(d) async for d in self.documents.find({}, {"event": 0})]
        for start in range(0, len(docs), 500):
            await self.index_documents([{**d, "tokens": documents.search_words(d)} for d in docs[start:start + 500]])

    async def index_documents(self, docs: list[Document], stored_before: Collection[str] = ()) -> None:
        """Each document's entry in its patient's list: inserted with the document's block flag (new documents,
        the hot path), else set without it (documents `stored_before`, whose entry is there unless a crash came
        between the two writes: upserted; the flag is the patient's commands' to set); a document a correction
        moved to another patient leaves the list of each patient its versions named."""
        by_key = {listing.key(d["patient_matricule"], d["_id"]): d for d in docs}
        entries = {k: listing.entry(d) for k, d in by_key.items()}
        older = {k for k, d in by_key.items() if d["_id"] in stored_before}
        existing = await insert_new(self.index, [{"_id": k, **e, "blocked": bool(by_key[k].get("blocked"))}
                                                 for k, e in entries.items() if k not in older])
        if existing | older:
            await self.index.bulk_write([UpdateOne({"_id": k}, {"$set": entries[k], "$setOnInsert": {
                "blocked": bool(by_key[k].get("blocked"))}}, upsert=True) for k in sorted(existing | older)],
                ordered=False)
        left = sorted({listing.key(v["patient_matricule"], d["_id"]) for d in docs for v in d.get("versions") or []
                       if v["patient_matricule"] != d["patient_matricule"]})
        if left:
            await self.index.delete_many({"_id": {"$in": left}})

    async def patient_index(self, patient: str) -> list[dict[str, Any]]:
        """The patient's list entries: an `_id` prefix range (answered from the `_id` index)."""
        return [e async for e in self.index.find({"_id": listing.prefix_range(patient)})]

    async def load(self, ids: list[str]) -> dict[str, Document]:
        return {d["_id"]: loaded(d) async for d in self.documents.find({"_id": {"$in": ids}})}

    async def save_documents(self, docs: list[Document]) -> None:
        """Lab results folded again (`$unset`: a document stored before `stored` existed held both)."""
        ops = [UpdateOne({"_id": d["_id"]}, {"$set": {k: v for k, v in stored(d).items() if k != "_id"},
                                             "$unset": {field: "" for field in DERIVED},
                                             "$setOnInsert": {"blocked": False}}, upsert=True) for d in docs]
        if ops:
            await self.documents.bulk_write(ops, ordered=False)

    async def insert_new_documents(self, docs: list[Document]) -> set[str]:
        """Insert documents never seen before; returns the ids that already existed (to load and update)."""
        return await insert_new(self.documents, [{**stored(d), "blocked": False} for d in docs])

    async def claim_messages(self, owners: dict[str, str]) -> dict[str, str]:
        """Record (laboratory, message id) -> document id; returns the earlier owner of each id already claimed
        (read first: a redelivery's claims are not inserted again, so the insert holds no duplicate)."""
        earlier = await self._owners(sorted(owners))
        raced = await insert_new(self.lab_messages, [{"_id": k, "document_id": v} for k, v in owners.items()
                                                     if k not in earlier])
        return {**earlier, **(await self._owners(sorted(raced)) if raced else {})}

    async def _owners(self, keys: list[str]) -> dict[str, str]:
        return {m["_id"]: m["document_id"] async for m in self.lab_messages.find({"_id": {"$in": keys}})}

    async def fix_event(self, event_id: str, text: str) -> str:
        """The event's bytes, fixed by the first attempt to send it (a unique-_id insert); later ones reuse them."""
        if not await insert_new(self.outbox, [{"_id": event_id, "event": text}]):
            return text
        stored = await self.outbox.find_one({"_id": event_id})
        return str(stored["event"]) if stored else text

    async def put_file(self, file_id: str, data: bytes, content_type: str) -> None:
        await self.files.put(file_id, data, content_type)

    async def file_size(self, file_id: str) -> int | None:
        return await self.files.size(file_id)

    async def file(self, file_id: str) -> bytes | None:
        return await self.files.read(file_id)

    async def file_sizes(self, file_ids: list[str]) -> dict[str, int]:
        return await self.files.sizes(file_ids)

    async def some_documents(self, patient: str, doc_ids: list[str], professional: bool) -> dict[str, Document]:
        """`document` for many ids: one `_id` `$in` read, the owner and the block flag checked here."""
        found = self.documents.find({"_id": {"$in": sorted(set(doc_ids))}}, {"tokens": 0, "event": 0})
        return {d["_id"]: loaded(d) async for d in found
                if d.get("patient_matricule") == patient and not (professional and d.get("blocked"))}

    async def document(self, patient: str, doc_id: str, professional: bool) -> Document | None:
        """The patient's document `doc_id` (looked up by `_id`; the owner and, for a professional, the block flag
        checked here)."""
        found = await self.documents.find_one({"_id": doc_id}, {"tokens": 0, "event": 0})
        if found is None or found.get("patient_matricule") != patient or (professional and found.get("blocked")):
            return None
        return loaded(found)

    async def owner(self, doc_id: str) -> str | None:
        """The DSP a document is in, by `_id` (its patient, nothing else read)."""
        found = await self.documents.find_one({"_id": doc_id}, {"patient_matricule": 1})
        return str(found["patient_matricule"]) if found is not None else None

    async def add_upload(self, doc: Document, event: str) -> str:
        """A patient's upload, its event fixed in the same write (first write wins); the event's stored bytes."""
        await self.documents.update_one({"_id": doc["_id"]}, {"$setOnInsert": {**stored(doc), "blocked": False,
                                                                              "event": event}}, upsert=True)
        found = await self.documents.find_one({"_id": doc["_id"]}, {"event": 1})
        await self.index_documents([doc])
        return str((found or {}).get("event") or event)  # stored before events were kept: rebuilt

    async def set_blocked(self, patient: str, doc_id: str, blocked: bool) -> bool:
        """Block or unblock the patient's document, in it and in the patient's index; False: no such document."""
        found = await self.documents.update_one({"_id": doc_id, "patient_matricule": patient},
                                                {"$set": {"blocked": blocked}})
        if found.matched_count:
            await self.index.update_one({"_id": listing.key(patient, doc_id)}, {"$set": {"blocked": blocked}},
                                        upsert=True)
        return bool(found.matched_count)

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
        """The registered ones (asked of the database once each: a batch's patients are mostly known already)."""
        ask = sorted(matricules - self._known)
        found = {p["_id"] async for p in self.persons.find({"_id": {"$in": ask}}, {"_id": 1})} if ask else set()
        self._remember(found)
        return (matricules & self._known) | found

    async def add_person(self, matricule: str) -> None:
        await self.persons.update_one({"_id": matricule}, {"$setOnInsert": {"known": True}}, upsert=True)
        self._remember({matricule})

    def _remember(self, matricules: set[str]) -> None:
        if len(self._known) + len(matricules) > KNOWN_MAX:  # memory bounded: start again (asked again, found again)
            self._known.clear()
        self._known |= matricules

    async def park(self, entries: list[dict[str, Any]]) -> None:
        await insert_new(self.parked, entries)

    async def parked_for(self, matricule: str) -> list[dict[str, Any]]:
        return [p async for p in self.parked.find({"patient_matricule": matricule}).sort("_id", ASCENDING)]

    async def unpark(self, ids: list[str]) -> None:
        await self.parked.delete_many({"_id": {"$in": ids}})

    async def all_laboratories(self) -> list[dict[str, Any]]:
        """Every laboratory (a few dozen in a country: read whole, at start and when a key id is not known)."""
        return [d async for d in self.laboratories.find({})]

    async def laboratory(self, laboratory_id: str) -> dict[str, Any] | None:
        return await self.laboratories.find_one({"_id": laboratory_id})

    async def put_laboratory(self, doc: dict[str, Any]) -> None:
        """The laboratory as merged (one partition per laboratory: its announcements come one at a time)."""
        await self.laboratories.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def await_key(self, entries: list[dict[str, Any]]) -> None:
        """Results signed with a key id nobody announced yet, whole (`_id`: <kid>|<digest>: kept once)."""
        await insert_new(self.awaiting_key, entries)

    async def awaiting(self, kid: str) -> list[dict[str, Any]]:
        """The results waiting for key `kid`, by an `_id` prefix range (the `_id` index; FerretDB scans otherwise)."""
        return [p async for p in self.awaiting_key.find({"_id": {"$gte": f"{kid}|", "$lt": f"{kid}}}"}})
                .sort("_id", ASCENDING)]

    async def release_awaiting(self, ids: list[str]) -> None:
        await self.awaiting_key.delete_many({"_id": {"$in": ids}})


async def insert_new(collection: Any, docs: list[dict[str, Any]]) -> set[str]:
    """One unordered insert; the _ids that were already there are returned, not raised (idempotent writes)."""
    return {docs[i]["_id"] for i in await insert_many_once(collection, docs)}
