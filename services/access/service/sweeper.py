"""The sweeper: finds grants whose time is up and asks for their end, once per grant end.

Decisions never wait for it — `decide()` denies an expired grant by itself; the sweeper tidies the stored
state, ends a minor's assistant links at majority, and gets the patient told. It does not write patient
state itself: it publishes an internal `end-grant` command (deterministic id) on the patient's partition of
`access.commands.v1`, so the partition's single consumer applies it like any command. Two replicas sweeping
the same due grant publish the same command id; the second is recognised and answers the same outcome,
so `access.grant-expired.v1` carries one event per grant end. (FerretDB v1 has no atomic conditional
update — measured: two concurrent `find_one_and_update` claims on one document both win — so a lease in the
database could not give this guarantee; unique inserts and the single partition owner can.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from schemas.access import ActorRef, EndGrant
from services.kit.commands import Publish

from ..store import Store
from .effects import IDS, ms
from .view import AccessView

log = structlog.get_logger("dsp.access.sweeper")
SWEEPER = ActorRef(kind="operator", id="access-sweeper")
PRUNE_EVERY = timedelta(hours=1)  # old change markers (store.changes) and counts deleted


class Sweeper:
    def __init__(self, store: Store, view: AccessView, send_command: Publish,
                 clock: Callable[[], datetime]) -> None:
        self.store, self.view, self.send_command, self.clock = store, view, send_command, clock
        self.pruned_at: datetime | None = None

    async def sweep(self, batch: int = 500) -> int:
        """Ask for the end of every grant due by now; returns how many were asked for."""
        now = ms(self.clock())
        asked = 0
        for item in await self.store.due_ends(now, batch):
            command = EndGrant(command="end-grant", command_id=f"end-{IDS.of(item['_id'])}",
                               patient=item["patient"], actor=SWEEPER, grant=item["kind"], subject=item["subject"],
                               ends_at=item["ends_at"])
            await self.send_command(command.model_dump(mode="json"), key=command.patient.encode())
            await self.store.end_requested(item["_id"], now)
            asked += 1
        return asked

    async def prune(self) -> int:
        """Once per `PRUNE_EVERY`: the change markers no catch-up reads any more, the wrong guesses and breaks of
        the glass no window counts any more."""
        now = self.clock()
        if self.pruned_at is not None and now - self.pruned_at < PRUNE_EVERY:
            return 0
        self.pruned_at = now
        pruned = await self.store.prune_changes(now)
        if pruned:
            log.info("old change markers pruned", markers=pruned)
        counters = await self.store.prune_counters(now)
        if counters:
            log.info("old guess and break-the-glass counts pruned", entries=counters)
        return pruned + counters

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                if await self.sweep():
                    log.info("grant ends requested")
                await self.view.catch_up(self.clock())
                await self.prune()
            except Exception as exc:  # noqa: BLE001 - a failed sweep is retried next period, never fatal
                log.warning("sweep failed; retrying next period", error=type(exc).__name__)
            try:
                await asyncio.wait_for(stop.wait(), interval_s)
            except TimeoutError:
                pass
