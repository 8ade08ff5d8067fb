"""Two sweepers racing on the same due grants, then the partition owner applying what they asked for, on the
real MongoDB-protocol server: each grant end is announced exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient

from schemas.access import AccessCommandV1
from services.access.domain import state as ev
from services.access.domain.grants import GrantKind
from services.access.service.apply import ApplyCommands
from services.access.service.arrivals import PersonArrivals
from services.access.service.effects import Notices, Publishers
from services.access.service.sweeper import Sweeper
from services.access.service.view import AccessView
from services.access.store import AccessStore, PatientDoc
from services.access.store.audit_log import AuditLog
from tests.fakes.access import TEST_AUDIT_KEYS, FakeCheckpoints

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
PATIENT = "1893120105732"


class Sink:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def __call__(self, body: dict[str, Any], **_: Any) -> None:
        self.sent.append(body)
        await asyncio.sleep(0)  # let the other sweeper run in between


async def test_racing_sweepers_end_each_grant_once(mongo: AsyncMongoClient[dict[str, Any]], run_id: str) -> None:
    store = AccessStore(mongo[f"{run_id}_sweep"])
    await store.ensure_indexes()
    await store.persons.insert_one({"_id": PATIENT})
    doc = PatientDoc(PATIENT)
    pros = [f"PRO-{i}" for i in range(30)]
    for i, pro in enumerate(pros):
        at = T0 + timedelta(minutes=i)
        ev.apply(doc.access, ev.GrantGiven(GrantKind.PRESENCE, pro, at))
        await store.schedule_end(PATIENT, "presence-password", pro, at + timedelta(hours=24))
    assert await store.save(doc, T0)

    def clock() -> datetime:
        return T0 + timedelta(hours=25)

    asked_a, asked_b = Sink(), Sink()
    a, b = Sweeper(store, AccessView(store), asked_a, clock), Sweeper(store, AccessView(store), asked_b, clock)
    await asyncio.gather(a.sweep(), b.sweep())
    asked = asked_a.sent + asked_b.sent
    assert len({c["command_id"] for c in asked}) == 30 and len(asked) >= 30  # a grant may be asked for twice

    expired = Sink()
    out = Publishers(outcome=Sink(), changed=Sink(), notify=Sink(), expired=expired, command=Sink())
    trail = AuditLog(store.audit, TEST_AUDIT_KEYS, FakeCheckpoints())
    owner = ApplyCommands(store, AccessView(store), trail, out, Notices(out.notify), PersonArrivals(store), clock)
    for body in asked + asked[:5]:  # the partition owner applies every request, a redelivery too
        await owner.handle(AccessCommandV1.model_validate(body).root)

    assert sorted(e["subject"] for e in expired.sent) == sorted(pros)
    assert len({e["event_id"] for e in expired.sent}) == len(expired.sent) == 30
    stored = await store.load(PATIENT)
    assert stored.access.grants == {} and stored.version == 31
    assert len(await trail.chain(PATIENT)) == 30 and (await trail.verify(PATIENT)).intact
    assert await a.sweep() == 0  # nothing left to ask for
