"""The decision use case (`POST /v1/decisions`): may this actor do this on this patient's DSP now? The view
decides (pure rules over the in-memory state), the audit entry is stored before the answer (no audit, no access;
the owner's own reads are not audited), then a professional's first access to the patient is told to her once —
off the decision's path (the answer does not wait for Kafka). A notice that could not be sent leaves no marker,
so the next decision tries again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import structlog

from schemas.access import DecisionRequest, DecisionV1
from services.kit.errors import TRANSIENT

from ..domain.decisions import Action, Actor
from ..store import AuditTrail, Store
from .effects import Notices, ms
from .view import AccessView

log = structlog.get_logger("dsp.access.decide")
SEEN_MAX = 200_000  # (patient, professional) pairs known to have been told of a first access (~40 MiB at most)
LINGER_S = 0.25  # first accesses gathered this long, then claimed in one commit (FirstAccess)
Lap = Callable[[str], None]  # the edge's stopwatch: a phase ("decide", "audit") has ended


def _no_lap(phase: str) -> None:
    return None


class FirstAccess:
    """A professional's first access to a patient, told to her once: a unique marker claimed in the store, then
    the notice; the pairs already told are remembered in memory (bounded), so a decision usually costs nothing.

    The pairs first seen are gathered for `linger_s` and then claimed together (one group commit of markers, one
    burst of notices) instead of one claim commit after another: FerretDB has a single writer (SQLite), so every
    claim commit the audit's group commit meets waits in SQLite's busy loop and lengthens the answers' audit wait.
    A notice is not an answer: a quarter of a second later changes nothing for the patient."""

    def __init__(self, store: Store, view: AccessView, notices: Notices, clock: Callable[[], datetime],
                 linger_s: float = LINGER_S) -> None:
        self.store, self.view, self.notices, self.clock, self.linger_s = store, view, notices, clock, linger_s
        self._seen: set[tuple[str, str]] = set()  # (patient, professional) already told about
        self._due: list[tuple[str, str]] = []  # seen for the first time, to be claimed and told at the next flush
        self._flusher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def seen(self, patient: str, professional: str) -> None:
        """A professional was allowed in: tell the patient in the background if this is the first time."""
        if (patient, professional) in self._seen:
            return
        if len(self._seen) >= SEEN_MAX:  # memory bounded: a pair forgotten costs one claim, which says "told"
            self._seen.clear()
        self._seen.add((patient, professional))
        self._due.append((patient, professional))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.linger_s)  # the only await: cancelling it (settled) never cuts a notice short
        self._flush()

    def _flush(self) -> None:
        """Start telling every pair due: their claims reach the store's group commit together."""
        due, self._due = self._due, []
        for patient, professional in due:
            task = asyncio.create_task(self.tell(patient, professional))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def settled(self) -> None:
        """Tell the pairs due now and wait for the notices under way (tests, shutdown)."""
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
        self._flusher = None
        self._flush()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def tell(self, patient: str, professional: str) -> None:
        marker = f"{patient}|{professional}"
        try:
            if not await self.store.claim_first_access(marker, self.clock()):
                return
        except TRANSIENT:
            self._seen.discard((patient, professional))
            return
        try:
            await self.notices.notify(patient, f"first-access:{marker}", "first-access",
                                      {"professional": self.view.display(professional)})
        except Exception as exc:  # noqa: BLE001 - logged; the marker goes so that the next decision retries
            log.warning("first-access notice not sent; will retry", error=type(exc).__name__)
            self._seen.discard((patient, professional))
            await self.store.release_first_access(marker)


class Decide:
    def __init__(self, view: AccessView, audit: AuditTrail, first_access: FirstAccess,
                 clock: Callable[[], datetime]) -> None:
        self.view, self.audit, self.first_access, self.clock = view, audit, first_access, clock

    async def __call__(self, body: DecisionRequest, via: str = "", lap: Lap = _no_lap) -> DecisionV1:
        """`via`: the calling service (audited); `lap`: told when the decision and the audit are done."""
        now, actor = ms(self.clock()), Actor(body.actor.kind, body.actor.id)
        decision = await self.view.decide(actor, Action(body.action), body.patient, now, body.document)
        lap("decide")
        seq = None
        if actor.kind != "patient" or actor.id != body.patient:  # the owner's own reads are not audited
            entry = await self.audit.append(body.patient, now, actor.kind, actor.id, body.action, body.document,
                                            decision.allowed, decision.reason, via=via)
            seq = entry.seq
            lap("audit")
        if decision.allowed and actor.kind == "professional":
            self.first_access.seen(body.patient, actor.id)
        return DecisionV1(allowed=decision.allowed, reason=decision.reason,
                          grant=decision.grant.value if decision.grant else None, audit_seq=seq)
