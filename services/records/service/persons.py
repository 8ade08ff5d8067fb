"""The use case "the registry announced a person" (`registry.persons.v1`): records knows her as a patient from now
on, and her results that waited for her (parked) are sent on (`ingest.Ingestor.release`)."""

from __future__ import annotations

from schemas.registry import PersonRegisteredV1

from ..store.protocol import Store
from .ingest import Ingestor


class Persons:
    def __init__(self, store: Store, ingest: Ingestor) -> None:
        self.store, self.ingest = store, ingest

    async def registered(self, person: PersonRegisteredV1) -> None:
        await self.store.add_person(person.matricule)
        await self.ingest.release(person.matricule)
