"""The operations console's counters (it never opens activation's database): accounts activated, persons who
ever opened a session."""

from __future__ import annotations

from ..store.protocol import Store


class Stats:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def counts(self) -> dict[str, int]:
        return await self.store.counts()
