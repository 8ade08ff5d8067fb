"""The seam below records' use cases: the `Store` Protocol (`mongo.RecordsStore` on MongoDB,
`tests.fakes.records.MemoryStore` in memory). Documents are `domain.documents.Document`s; the other stored things
(parked results, laboratories, command outcomes, list entries) are plain dicts."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

from ..domain.documents import Document

Doc = dict[str, Any]


class Store(Protocol):
    """What the use cases (`service/`) need from records' data."""

    # ingestion (service/ingest.py) and the registry's persons (service/persons.py)
    async def known_persons(self, matricules: set[str]) -> set[str]:
        """The registered ones."""

    async def add_person(self, matricule: str) -> None: ...

    async def claim_messages(self, owners: dict[str, str]) -> dict[str, str]:
        """Record (laboratory, message id) -> document id; the earlier owner of each id already claimed."""

    async def insert_new_documents(self, docs: list[Document]) -> set[str]:
        """Insert documents never seen before; the ids that already existed (to load and update)."""

    async def load(self, ids: list[str]) -> dict[str, Document]: ...

    async def save_documents(self, docs: list[Document]) -> None: ...

    async def index_documents(self, docs: list[Document], stored_before: Collection[str] = ()) -> None:
        """Each document's entry in its patient's list (`stored_before`: the ids of those stored before)."""

    async def put_file(self, file_id: str, data: bytes, content_type: str) -> None: ...

    async def park(self, entries: list[Doc]) -> None:
        """Results for a patient not registered yet, whole."""

    async def parked_for(self, matricule: str) -> list[Doc]: ...

    async def unpark(self, ids: list[str]) -> None: ...

    async def await_key(self, entries: list[Doc]) -> None:
        """Results signed with a key id not announced yet, whole (`_id`: <kid>|<digest>)."""

    async def awaiting(self, kid: str) -> list[Doc]: ...

    async def release_awaiting(self, ids: list[str]) -> None: ...

    # the laboratory directory (service/directory.py)
    async def all_laboratories(self) -> list[Doc]:
        """Every laboratory the directory announced (`domain.laboratories.Laboratory.stored`)."""

    async def laboratory(self, laboratory_id: str) -> Doc | None: ...

    async def put_laboratory(self, doc: Doc) -> None: ...

    # a patient's own documents (service/patient_documents.py)
    async def add_upload(self, doc: Document, event: str) -> str:
        """A patient's upload, its event fixed in the same write (first write wins); the event's stored bytes."""

    async def set_blocked(self, patient: str, doc_id: str, blocked: bool) -> bool:
        """Block or unblock the patient's document; False: no such document in her DSP."""

    async def fix_event(self, event_id: str, text: str) -> str:
        """The event's bytes, fixed by the first attempt to send it; later ones reuse them."""

    async def record_outcome(self, command_id: str, patient: str, outcome: Doc) -> None:
        """A command's outcome, for the sender to poll; the first one stored wins."""

    # the gateway's reads (service/reads.py) and the console's counts (service/stats.py)
    async def patient_index(self, patient: str) -> list[Doc]:
        """The patient's list entries (`domain.listing`)."""

    async def document(self, patient: str, doc_id: str, professional: bool) -> Document | None:
        """The patient's document `doc_id`; None for another's, or a blocked one for a professional."""

    async def owner(self, doc_id: str) -> str | None:
        """The matricule of the DSP document `doc_id` is in (blocked or not); None: no such document."""

    async def some_documents(self, patient: str, doc_ids: list[str], professional: bool) -> dict[str, Document]:
        """`document`, for many ids in one read: those of the patient's the viewer may see, by id."""

    async def file_size(self, file_id: str) -> int | None: ...

    async def file_sizes(self, file_ids: list[str]) -> dict[str, int]:
        """The stored files' sizes, in one read (a missing file is left out)."""

    async def file(self, file_id: str) -> bytes | None: ...

    async def titles(self, patient: str, ids: list[str]) -> dict[str, str]: ...

    async def outcome(self, command_id: str, patient: str) -> Doc | None: ...

    async def counts(self) -> dict[str, int]: ...
