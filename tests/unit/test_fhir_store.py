"""The FHIR door's store (`services.gateway.store.fhir`) over a counting stand-in of its collections: a live
token's grant is read from the database once per replica and remembered until the token ends — never after, and
never for an unknown token. (The real FerretDB path: tests/integration/test_fhir_api.py.)"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import BulkWriteError

from services.gateway.fhir.smart import TOKEN_TTL_S, Grant
from services.gateway.store.fhir import FhirStore
from tests.inprocess import FakeClock


class Collection:
    """`_id`-keyed rows; counts the reads."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.reads = 0
        self.writes: list[list[str]] = []  # the _ids of each insert_many
        self.fail: Exception | None = None
        self.gate = asyncio.Event()
        self.gate.set()

    async def insert_one(self, row: dict[str, Any]) -> None:
        self.rows[row["_id"]] = dict(row)

    async def insert_many(self, rows: list[dict[str, Any]], ordered: bool = True) -> None:
        self.writes.append([r["_id"] for r in rows])
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        dup = [r for r in rows if r["_id"] in self.rows]
        self.rows.update({r["_id"]: dict(r) for r in rows if r["_id"] not in self.rows})
        if dup:
            raise BulkWriteError({"writeErrors": [{"code": 11000, "index": rows.index(r)} for r in dup]})

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        self.reads += 1
        return self.rows.get(query["_id"])


GRANT = Grant("PRO-1000", frozenset({"user/*.read"}), "cabinet-weber")


def world() -> tuple[FhirStore, dict[str, Collection], FakeClock]:
    db = {name: Collection() for name in ("fhir_tokens", "fhir_client_assertions")}
    clock = FakeClock(datetime(2026, 12, 7, 9, tzinfo=UTC))
    return FhirStore(db, clock), db, clock  # type: ignore[arg-type]


async def test_a_live_tokens_grant_is_read_once_per_replica_and_remembered_until_the_token_ends() -> None:
    issuer, db, clock = world()
    token, ttl = await issuer.issue(GRANT)
    assert ttl == TOKEN_TTL_S and await issuer.grant(token) == GRANT and db["fhir_tokens"].reads == 0  # issued here

    replica = FhirStore(db, clock)  # type: ignore[arg-type]  # another replica, the same database
    assert [await replica.grant(token) for _ in range(50)] == [GRANT] * 50
    assert db["fhir_tokens"].reads == 1
    clock.advance(seconds=TOKEN_TTL_S - 1)
    assert await replica.grant(token) == GRANT and await issuer.grant(token) == GRANT
    clock.advance(seconds=1)  # its end: refused by both, without asking the database again
    assert await replica.grant(token) is None and await issuer.grant(token) is None
    assert db["fhir_tokens"].reads == 1


async def test_an_unknown_or_malformed_token_is_refused_and_never_remembered() -> None:
    store, db, _ = world()
    assert await store.grant("x" * 43) is None and await store.grant("x" * 43) is None
    assert db["fhir_tokens"].reads == 2  # asked each time: a token issued meanwhile by another replica is found
    assert await store.grant("short") is None and db["fhir_tokens"].reads == 2
    token, _ = await FhirStore(db, store.clock).issue(GRANT)  # type: ignore[arg-type]
    assert await store.grant(token) == GRANT
