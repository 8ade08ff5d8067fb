"""Which patients' states changed when, for the view's catch-up: a small marker per saved state, `_id` =
`<minute>|<time>|<patient>`, written before the state (so every saved state has one).

FerretDB answers `{updated_at: {$gte: ...}}` by reading and decoding every patient's whole state — measured: 7 s
of its CPU for 20,000 patients, and the catch-up ran every sweep (5 s), so the audit's inserts waited behind it.
An `_id` prefix range is answered from the `_id` index (`infra.ferretdb_patch`, push-down 4): the catch-up reads
the markers of each minute since its last pass, then the changed states by `_id` (`$in`, pushed down as well).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

MINUTE = "%Y%m%d%H%M"
FULL_READ_AFTER = timedelta(hours=6)  # a longer gap: reading every state once beats minute by minute
AHEAD = timedelta(minutes=2)  # markers of a replica whose clock runs a little ahead of this one
CHUNK = 1000  # ids per `$in` read
KEEP = FULL_READ_AFTER + timedelta(hours=1)  # older markers are never read again: pruned


def marker(patient: str, at: datetime) -> dict[str, Any]:
    at = at.astimezone(UTC)
    return {"_id": f"{at.strftime(MINUTE)}|{at.isoformat()}|{patient}", "patient": patient, "at": at}


async def changed_since(changes: AsyncCollection[dict[str, Any]], since: datetime, until: datetime) -> set[str]:
    """The patients with a marker at or after `since`, up to `until` (minute by minute, each an `_id` range)."""
    patients: set[str] = set()
    minute = since.astimezone(UTC).replace(second=0, microsecond=0)
    while minute <= until:
        key = minute.strftime(MINUTE)
        async for raw in changes.find({"_id": {"$gte": f"{key}|", "$lt": f"{key}}}"}}, {"patient": 1, "at": 1}):
            if raw["at"] >= since:
                patients.add(raw["patient"])
        minute += timedelta(minutes=1)
    return patients


async def prune(changes: AsyncCollection[dict[str, Any]], now: datetime) -> int:
    """Delete the markers older than `KEEP` (a catch-up after a longer gap reads every state instead); how many.
    One filter on `_id` alone: FerretDB scans the markers for it, which stay few (hours of saved states)."""
    cutoff = (now - KEEP).astimezone(UTC).strftime(MINUTE)
    return (await changes.delete_many({"_id": {"$lt": f"{cutoff}|"}})).deleted_count


async def by_ids(patients: AsyncCollection[dict[str, Any]], ids: set[str],
                 projection: dict[str, int]) -> AsyncIterator[dict[str, Any]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), CHUNK):
        async for raw in patients.find({"_id": {"$in": ordered[start:start + CHUNK]}}, projection):
            yield raw
