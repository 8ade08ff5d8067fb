"""The use case "the console's counters": lab results stored, patients' uploads, results waiting for their patient."""

from __future__ import annotations

from schemas.records_api import RecordsStats

from ..store.protocol import Store


class Stats:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def counts(self) -> RecordsStats:
        return RecordsStats(**await self.store.counts())
