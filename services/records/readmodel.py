"""The documents read model the gateway queries: latest, all, keyword search, timeline, one document, its file.

`viewer="professional"` hides blocked documents (they stay visible to the patient and assistants);
withdrawn lab results are left out unless asked for. Lists carry no observation history: one query, one page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from gridfs.errors import NoFile
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from .domain import tokens
from .store import RecordsStore

Viewer = Literal["patient", "professional"]
LIST_FIELDS = {"versions": 0, "current.observations": 0, "current.event": 0}


class DocumentReadModel:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.store = RecordsStore(db)

    def _filter(self, patient: str, viewer: Viewer, include_withdrawn: bool = False) -> dict[str, Any]:
        query: dict[str, Any] = {"patient_matricule": patient}
        if viewer == "professional":
            query["blocked"] = False
        if not include_withdrawn:
            query["status"] = "active"
        return query

    async def _list(self, query: dict[str, Any], sort: list[tuple[str, int]], skip: int = 0,
                    limit: int = 20) -> list[dict[str, Any]]:
        cursor = self.store.documents.find(query, LIST_FIELDS).sort(sort).skip(skip).limit(limit)
        return [doc async for doc in cursor]

    async def latest(self, patient: str, viewer: Viewer = "patient", limit: int = 10) -> list[dict[str, Any]]:
        return await self._list(self._filter(patient, viewer), [("reported_at", DESCENDING), ("_id", ASCENDING)],
                                limit=limit)

    async def all(self, patient: str, viewer: Viewer = "patient", page: int = 0, page_size: int = 50,
                  include_withdrawn: bool = False) -> list[dict[str, Any]]:
        return await self._list(self._filter(patient, viewer, include_withdrawn),
                                [("document_date", DESCENDING), ("_id", ASCENDING)], page * page_size, page_size)

    async def search(self, patient: str, text: str, viewer: Viewer = "patient",
                     limit: int = 50) -> list[dict[str, Any]]:
        words = tokens(text)
        if not words:
            return []
        query = {**self._filter(patient, viewer), "tokens": {"$all": words}}
        return await self._list(query, [("document_date", DESCENDING), ("_id", ASCENDING)], limit=limit)

    async def timeline(self, patient: str, start: datetime, end: datetime,
                       viewer: Viewer = "patient") -> list[dict[str, Any]]:
        query = {**self._filter(patient, viewer), "document_date": {"$gte": start, "$lt": end}}
        return await self._list(query, [("document_date", ASCENDING), ("_id", ASCENDING)], limit=1000)

    async def get(self, patient: str, document_id: str, viewer: Viewer = "patient") -> dict[str, Any] | None:
        query = {**self._filter(patient, viewer, include_withdrawn=True), "_id": document_id}
        return await self.store.documents.find_one(query)

    async def file(self, patient: str, document_id: str, viewer: Viewer = "patient") -> tuple[str, bytes] | None:
        doc = await self.get(patient, document_id, viewer)
        attachment = (doc or {}).get("current", {}).get("attachment")
        if not attachment:
            return None
        try:
            stream = await self.store.files.open_download_stream(attachment["file_id"])
        except NoFile:
            return None
        return attachment["content_type"], await stream.read()
