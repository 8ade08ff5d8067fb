"""The console's counters (it never opens activation's database)."""

from __future__ import annotations

from typing import Any

from services.kit.http import Door

from ..service.stats import Stats
from .common import CONSOLE


def routes(door: Door, stats: Stats) -> list[tuple[str, Any]]:
    async def counts(raw: bytes) -> tuple[int, Any]:
        return 200, await stats.counts()

    return [("/v1/stats", door.endpoint(counts, CONSOLE))]
