"""access's decision API for the gateway (on the worker's own port); its reads are in `reads.py` and
`directory_api.py`, presence passwords in `presence_api.py`.

Bodies are JSON; a malformed one is a 422 with the reasons; a dependency down is a 503 (the gateway denies).
A professional's decision is only answered once its audit entry is stored: no audit, no access.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog

from schemas.access import AccessStatsV1, BreakTheGlassWatchV1, DecisionRequest, DecisionV1, GlassBreakerV1
from services.kit.errors import TRANSIENT
from services.kit.http import Door
from services.kit.servicetokens import calling_service

from . import emergency
from .decisions import Action, Actor
from .service import AccessService, ms
from .timing import Phases

log = structlog.get_logger("dsp.access.api")
SEEN_MAX = 200_000  # (patient, professional) pairs known to have been told of a first access (~40 MiB at most)


class AccessApi:
    def __init__(self, service: AccessService, clock: Callable[[], datetime], phases: Phases | None = None) -> None:
        self.service, self.clock, self.phases = service, clock, phases or Phases(None)
        self.view, self.audit, self.store = service.view, service.audit, service.store
        self._seen: set[tuple[str, str]] = set()  # (patient, professional) already told about
        self._tasks: set[asyncio.Task[None]] = set()

    def routes(self, door: Door) -> list[tuple[str, Any]]:
        """Each behind the door: only the gateway calls them (a service token, JSON, a known Host)."""
        gateway = ("gateway",)
        return [("/v1/decisions", self.phases.timed(door.endpoint(self.decide, gateway))),
                ("/v1/stats", door.endpoint(self.stats, ("console",)))]

    async def stats(self, raw: bytes) -> tuple[int, Any]:
        """The console's counters (it never opens access's database): grants, and the professionals who broke the
        glass on `emergency.THRESHOLD` different patients or more in the last 24 hours (ids and counts only)."""
        now = ms(self.clock())
        uses = await self.store.glass_broken_since(now - emergency.WINDOW, now)
        watch = BreakTheGlassWatchV1(
            window_hours=int(emergency.WINDOW.total_seconds() // 3600), threshold=emergency.THRESHOLD,
            professionals=[GlassBreakerV1(professional_id=f.professional_id, patients=f.patients, uses=f.uses,
                                          last_at=f.last_at) for f in emergency.frequent(uses, now)])
        return 200, AccessStatsV1(grants=await self.store.grant_counts(now),
                                  break_the_glass=watch).model_dump(mode="json")

    async def decide(self, raw: bytes) -> tuple[int, Any]:
        lap = self.phases.entered()
        body = DecisionRequest.model_validate_json(raw)
        lap = self.phases.lap("parse", lap)
        now, actor = ms(self.clock()), Actor(body.actor.kind, body.actor.id)
        decision = await self.view.decide(actor, Action(body.action), body.patient, now, body.document)
        lap = self.phases.lap("decide", lap)
        seq = None
        if actor.kind != "patient" or actor.id != body.patient:  # the owner's own reads are not audited
            entry = await self.audit.append(body.patient, now, actor.kind, actor.id, body.action, body.document,
                                            decision.allowed, decision.reason, via=calling_service.get() or "")
            seq = entry.seq
            self.phases.lap("audit", lap)
        if decision.allowed and actor.kind == "professional":
            await self._first_access(body.patient, actor.id)
        return 200, DecisionV1(allowed=decision.allowed, reason=decision.reason,
                               grant=decision.grant.value if decision.grant else None, audit_seq=seq).model_dump()

    async def _first_access(self, patient: str, professional: str) -> None:
        """Tell the patient about a professional's first access — off the decision's path: the answer does not
        wait for Kafka. A notice that could not be sent leaves no marker, so the next decision tries again."""
        if (patient, professional) in self._seen:
            return
        if len(self._seen) >= SEEN_MAX:  # memory bounded: a pair forgotten costs one claim, which says "told"
            self._seen.clear()
        self._seen.add((patient, professional))
        task = asyncio.create_task(self._tell_first_access(patient, professional))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _tell_first_access(self, patient: str, professional: str) -> None:
        marker = f"{patient}|{professional}"
        try:
            if not await self.store.claim_first_access(marker, self.clock()):
                return
        except TRANSIENT:
            self._seen.discard((patient, professional))
            return
        try:
            await self.service.notify(patient, f"first-access:{marker}", "first-access",
                                      {"professional": self.view.display(professional)})
        except Exception as exc:  # noqa: BLE001 - logged; the marker goes so that the next decision retries
            log.warning("first-access notice not sent; will retry", error=type(exc).__name__)
            self._seen.discard((patient, professional))
            await self.store.release_first_access(marker)
