"""The console's counters (it never opens records' database)."""

from __future__ import annotations

from typing import Any

from schemas.records_api import StatsQuery
from services.kit.http import Door

from ..service.stats import Stats

CONSOLE = ("console",)


def routes(door: Door, stats: Stats) -> list[tuple[str, Any]]:
    async def counts(raw: bytes) -> tuple[int, Any]:
        StatsQuery.model_validate_json(raw)
        return 200, (await stats.counts()).model_dump(mode="json")

    return [("/v1/stats", door.endpoint(counts, CONSOLE))]
