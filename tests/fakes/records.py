"""records' store in memory (`services.records.store.Store`): documents kept as the real store writes them
(`store.stored`: no `current`, no search words) and read back as it reads them (`store.loaded`), copied in and out.
Knobs for the batch tests: a document that cannot be written, a database that is down, writes that fail."""

from __future__ import annotations

import copy
from collections.abc import Collection
from typing import Any

from pymongo.errors import AutoReconnect

from services.records import domain
from services.records.domain import Document
from services.records.store import loaded, stored

PATIENT = "1893120105732"  # the one registered patient


class MemoryStore:
    def __init__(self, poison_report: str | None = None, down: bool = False, fail_writes: int = 0) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, str] = {}
        self.indexed: set[str] = set()
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
        return matricules & {PATIENT}

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
