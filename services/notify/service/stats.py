"""The use case "the console's counters": letters sent, and per channel the requests delivered and failed."""

from __future__ import annotations

from schemas.notify import NotifyStatsV1

from ..store.protocol import Store


class Stats:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def counts(self) -> NotifyStatsV1:
        return NotifyStatsV1.model_validate(await self.store.counts())
