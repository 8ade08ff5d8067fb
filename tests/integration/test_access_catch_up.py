"""The view's catch-up on the real MongoDB-protocol server: a state saved without its change event reaching this
replica is found by its change marker (an `_id` range, never a scan of every patient's state)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient

from services.access.domain import state as ev
from services.access.service.sweeper import Sweeper
from services.access.service.view import AccessView
from services.access.store import AccessStore, PatientDoc, changes
from tests.fakes.publish import Sent

PATIENTS = ["1893120105732", "1990010100015", "1985061200117"]


async def test_the_catch_up_reads_what_changed_since_its_last_pass(mongo: AsyncMongoClient[dict[str, Any]],
                                                                   run_id: str) -> None:
    store = AccessStore(mongo[f"{run_id}_catchup"])
    await store.ensure_indexes()
    now = datetime.now(UTC).replace(microsecond=0)
    old = PatientDoc(PATIENTS[0])
    ev.apply(old.access, ev.CircleMemberAdded("PRO-1", now - timedelta(hours=1), None))
    assert await store.save(old, now - timedelta(minutes=10))  # before the view's snapshot
    view = AccessView(store)
    await view.load()
    assert view.synced_until == now - timedelta(minutes=10)

    await view.catch_up(now)  # nothing changed since the snapshot
    for i, patient in enumerate(PATIENTS[1:], 1):  # saved by another replica: no event seen here
        doc = PatientDoc(patient)
        ev.apply(doc.access, ev.CircleMemberAdded(f"PRO-{i}", now, None))
        assert await store.save(doc, now + timedelta(seconds=i))
    changed = await store.load(PATIENTS[0])
    ev.apply(changed.access, ev.CircleMemberAdded("PRO-9", now, None))
    assert await store.save(changed, now + timedelta(minutes=1, seconds=5))  # in the next minute's markers

    assert await view.catch_up(now + timedelta(minutes=1, seconds=10)) == 3
    assert sorted(view.patients) == sorted(PATIENTS)
    assert view.patients[PATIENTS[0]][0] == 2 and ("trusted-circle", "PRO-9") in view.patients[PATIENTS[0]][1].grants
    assert await view.catch_up(now + timedelta(minutes=2)) == 1  # the last 30 s are read again (clock skew)
    assert await view.catch_up(now + timedelta(minutes=3)) == 0


async def test_markers_no_catch_up_reads_are_pruned_once_an_hour(mongo: AsyncMongoClient[dict[str, Any]],
                                                                 run_id: str) -> None:
    store = AccessStore(mongo[f"{run_id}_prune"])
    await store.ensure_indexes()
    now = datetime.now(UTC).replace(microsecond=0)
    for i, age in enumerate((changes.KEEP + timedelta(days=3), changes.KEEP + timedelta(minutes=2),
                             changes.KEEP - timedelta(minutes=2), timedelta(seconds=5))):
        doc = PatientDoc(PATIENTS[i % len(PATIENTS)] if i < 3 else "1970010100012")
        ev.apply(doc.access, ev.CircleMemberAdded(f"PRO-{i}", now - age, None))
        assert await store.save(doc, now - age)
    sweeper = Sweeper(store, AccessView(store), Sent(), lambda: now)
    assert await sweeper.prune() == 2  # the two older than KEEP
    assert await sweeper.prune() == 0  # not again within the hour
    left = [m["_id"] async for m in store.changes.find({})]
    assert len(left) == 2 and all(m >= (now - changes.KEEP).strftime(changes.MINUTE) for m in left)
    assert await AccessView(store).catch_up(now) == 1  # the recent save is still found
