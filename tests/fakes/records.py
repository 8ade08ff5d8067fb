"""records' store in memory (the `services.records.store.protocol.Store` Protocol): documents kept as the real store
writes them (`store.shape.stored`: no `current`, no search words) and read back as it reads them
(`store.shape.loaded`), copied in and out; each patient's list entries as the real store keeps them
(`domain.listing.entry`, the block flag written by the patient's commands only). Knobs for the batch tests: a
document that cannot be written, a database that is down, writes that fail."""

from __future__ import annotations

import copy
from collections.abc import Collection
from typing import Any

from pymongo.errors import AutoReconnect

from services.records.domain import documents as domain
from services.records.domain import listing
from services.records.domain.documents import Document
from services.records.store.shape import loaded, stored

PATIENT = "1893120105732"  # the one registered patient


class MemoryStore:
    def __init__(self, poison_report: str | None = None, down: bool = False, fail_writes: int = 0) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, str] = {}
        self.indexed: set[str] = set()
        self.index: dict[str, dict[str, Any]] = {}  # <matricule>|<document id> -> list entry
        self.persons: set[str] = {PATIENT}
        self.blocked: set[str] = set()
        self.events: dict[str, str] = {}  # event id -> its fixed bytes (a visibility change's)
        self.outcomes: dict[str, dict[str, Any]] = {}
        self.parked: dict[str, dict[str, Any]] = {}
        self.laboratories: dict[str, dict[str, Any]] = {}
        self.awaiting_key: dict[str, dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}
        self.poison = domain.document_id("LAB1", poison_report) if poison_report else None
        self.down = down
        self.fail_writes = fail_writes  # the database goes away after the claims, before the documents

    async def known_persons(self, matricules: set[str]) -> set[str]:
        if self.down:
            raise AutoReconnect("database down")
        return matricules & self.persons

    async def add_person(self, matricule: str) -> None:
        self.persons.add(matricule)

    async def claim_messages(self, owners: dict[str, str]) -> dict[str, str]:
        earlier = {k: self.messages[k] for k in owners if k in self.messages}
        self.messages.update({k: v for k, v in owners.items() if k not in earlier})
        return earlier

    async def insert_new_documents(self, docs: list[Document]) -> set[str]:
        if self.fail_writes:
            self.fail_writes -= 1
            raise AutoReconnect("database down")
        if any(d["_id"] == self.poison for d in docs):
            raise RuntimeError("this document cannot be written")
        existing = {d["_id"] for d in docs if d["_id"] in self.docs}
        self.docs.update({d["_id"]: copy.deepcopy(stored(d)) for d in docs if d["_id"] not in existing})
        return existing

    async def load(self, ids: list[str]) -> dict[str, Document]:
        return {i: loaded(copy.deepcopy(self.docs[i])) for i in ids if i in self.docs}

    async def save_documents(self, docs: list[Document]) -> None:
        self.docs.update({d["_id"]: copy.deepcopy(stored(d)) for d in docs})

    async def index_documents(self, docs: list[Document], stored_before: Collection[str] = ()) -> None:
        self.indexed.update(d["_id"] for d in docs)
        for d in docs:
            key = listing.key(d["patient_matricule"], d["_id"])
            blocked = self.index.get(key, {}).get("blocked", d["_id"] in self.blocked)
            self.index[key] = {"_id": key, **copy.deepcopy(listing.entry(d)), "blocked": blocked}
            for v in d.get("versions") or []:  # a correction moved it to another patient: off her list
                if v["patient_matricule"] != d["patient_matricule"]:
                    self.index.pop(listing.key(v["patient_matricule"], d["_id"]), None)

    async def put_file(self, file_id: str, data: bytes, content_type: str) -> None:
        self.files.setdefault(file_id, data)

    async def park(self, entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            self.parked.setdefault(entry["_id"], copy.deepcopy(entry))

    async def parked_for(self, matricule: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(p) for _, p in sorted(self.parked.items()) if p["patient_matricule"] == matricule]

    async def unpark(self, ids: list[str]) -> None:
        for i in ids:
            self.parked.pop(i, None)

    async def all_laboratories(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(d) for d in self.laboratories.values()]

    async def laboratory(self, laboratory_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.laboratories.get(laboratory_id))

    async def put_laboratory(self, doc: dict[str, Any]) -> None:
        self.laboratories[doc["_id"]] = copy.deepcopy(doc)

    async def await_key(self, entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            self.awaiting_key.setdefault(entry["_id"], copy.deepcopy(entry))

    async def awaiting(self, kid: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(p) for i, p in sorted(self.awaiting_key.items()) if i.startswith(f"{kid}|")]

    async def release_awaiting(self, ids: list[str]) -> None:
        for i in ids:
            self.awaiting_key.pop(i, None)

    # a patient's own documents
    async def add_upload(self, doc: Document, event: str) -> str:
        if doc["_id"] not in self.docs:
            self.docs[doc["_id"]] = {**copy.deepcopy(stored(doc)), "event": event}
        await self.index_documents([doc])
        return str(self.docs[doc["_id"]]["event"])

    async def set_blocked(self, patient: str, doc_id: str, blocked: bool) -> bool:
        found = self.docs.get(doc_id)
        if found is None or found["patient_matricule"] != patient:
            return False
        (self.blocked.add if blocked else self.blocked.discard)(doc_id)
        self.index.setdefault(listing.key(patient, doc_id), {"_id": listing.key(patient, doc_id)})["blocked"] = blocked
        return True

    async def fix_event(self, event_id: str, text: str) -> str:
        return self.events.setdefault(event_id, text)

    async def record_outcome(self, command_id: str, patient: str, outcome: dict[str, Any]) -> None:
        self.outcomes.setdefault(command_id, {"patient_matricule": patient, **copy.deepcopy(outcome)})

    # reads
    async def patient_index(self, patient: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(e) for k, e in sorted(self.index.items()) if k.startswith(f"{patient}|")]

    async def document(self, patient: str, doc_id: str, professional: bool) -> Document | None:
        found = self.docs.get(doc_id)
        if found is None or found["patient_matricule"] != patient or (professional and doc_id in self.blocked):
            return None
        return loaded({k: v for k, v in copy.deepcopy(found).items() if k != "event"})

    async def owner(self, doc_id: str) -> str | None:
        found = self.docs.get(doc_id)
        return str(found["patient_matricule"]) if found is not None else None

    async def some_documents(self, patient: str, doc_ids: list[str], professional: bool) -> dict[str, Document]:
        return {i: d for i in doc_ids if (d := await self.document(patient, i, professional)) is not None}

    async def file_sizes(self, file_ids: list[str]) -> dict[str, int]:
        return {i: len(self.files[i]) for i in file_ids if i in self.files}

    async def file_size(self, file_id: str) -> int | None:
        return len(self.files[file_id]) if file_id in self.files else None

    async def file(self, file_id: str) -> bytes | None:
        return self.files.get(file_id)

    async def titles(self, patient: str, ids: list[str]) -> dict[str, str]:
        return {i: str(self.docs[i]["title"]) for i in sorted(set(ids))
                if i in self.docs and self.docs[i]["patient_matricule"] == patient}

    async def outcome(self, command_id: str, patient: str) -> dict[str, Any] | None:
        found = self.outcomes.get(command_id)
        return copy.deepcopy(found) if found is not None and found["patient_matricule"] == patient else None

    async def counts(self) -> dict[str, int]:
        kinds = [d.get("document_type") for d in self.docs.values()]
        return {"lab_results_stored": kinds.count("lab-result"), "patient_uploads": kinds.count("patient-upload"),
                "parked_results": len(self.parked)}
