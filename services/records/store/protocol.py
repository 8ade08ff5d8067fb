"""What ingestion asks of records' store (`mongo.RecordsStore`; in tests, `tests.fakes.records.MemoryStore`)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

from ..domain import Document


class Store(Protocol):
    async def known_persons(self, matricules: set[str]) -> set[str]:
        """The registered ones."""

    async def claim_messages(self, owners: dict[str, str]) -> dict[str, str]:
        """Record (laboratory, message id) -> document id; the earlier owner of each id already claimed."""

    async def insert_new_documents(self, docs: list[Document]) -> set[str]:
        """Insert documents never seen before; the ids that already existed (to load and update)."""

    async def load(self, ids: list[str]) -> dict[str, Document]: ...

    async def save_documents(self, docs: list[Document]) -> None: ...

    async def index_documents(self, docs: list[Document], stored_before: Collection[str] = ()) -> None:
        """Each document's entry in its patient's list (`stored_before`: the ids of those stored before)."""

    async def put_file(self, file_id: str, data: bytes, content_type: str) -> None: ...

    async def park(self, entries: list[dict[str, Any]]) -> None:
        """Results for a patient not registered yet, whole."""

    async def parked_for(self, matricule: str) -> list[dict[str, Any]]: ...

    async def unpark(self, ids: list[str]) -> None: ...

    async def all_laboratories(self) -> list[dict[str, Any]]:
        """Every laboratory the directory announced (`laboratories.Laboratory.stored`)."""

    async def laboratory(self, laboratory_id: str) -> dict[str, Any] | None: ...

    async def put_laboratory(self, doc: dict[str, Any]) -> None: ...

    async def await_key(self, entries: list[dict[str, Any]]) -> None:
        """Results signed with a key id not announced yet, whole (`_id`: <kid>|<digest>)."""

    async def awaiting(self, kid: str) -> list[dict[str, Any]]: ...

    async def release_awaiting(self, ids: list[str]) -> None: ...
