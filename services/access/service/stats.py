"""The console's counters (`POST /v1/stats`; the console never opens access's database): time-limited grants
running, ending within 24 hours, ended; and the professionals who broke the glass on `emergency.THRESHOLD`
different patients or more in the last `emergency.WINDOW` (ids and counts only, never a patient)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from schemas.access import AccessStatsV1, BreakTheGlassWatchV1, GlassBreakerV1

from ..domain import emergency
from ..store import Store
from .effects import ms


class Stats:
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store, self.clock = store, clock

    async def __call__(self) -> AccessStatsV1:
        now = ms(self.clock())
        uses = await self.store.glass_broken_since(now - emergency.WINDOW, now)
        watch = BreakTheGlassWatchV1(
            window_hours=int(emergency.WINDOW.total_seconds() // 3600), threshold=emergency.THRESHOLD,
            professionals=[GlassBreakerV1(professional_id=f.professional_id, patients=f.patients, uses=f.uses,
                                          last_at=f.last_at) for f in emergency.frequent(uses, now)])
        return AccessStatsV1(grants=await self.store.grant_counts(now), break_the_glass=watch)
