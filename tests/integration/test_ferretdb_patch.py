"""The project's patched FerretDB (infra/ferretdb_patch.py): `_id` lookups use the index, bulk updates return.

Runs only against the project's own local FerretDB (the session `infra` fixture in local mode); MongoDB or
an external server has neither bug. `pytest tests/integration/test_ferretdb_patch.py -s` prints the figures.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId
from pymongo import MongoClient, UpdateOne
from pymongo.collection import Collection

from infra.ferretdb import FERRETDB_BUILD
from infra.procs import read_pid
from tests.integration.conftest import Infra

DOCS = 50_000


@pytest.fixture(scope="module")
def client(infra: Infra) -> Iterator[MongoClient[dict[str, Any]]]:
    if infra.mode != "local" or infra.local is None:
        pytest.skip(f"the infrastructure is {infra.mode!r} ({infra.mongo_uri}), not the project's own patched "
                    "FerretDB: these tests check that patch")
    # A hang (the bulk-update bug) must fail the test, not block it forever.
    c: MongoClient[dict[str, Any]] = MongoClient(infra.mongo_uri, socketTimeoutMS=60_000)
    yield c
    c.close()


@pytest.fixture(scope="module")
def db_name() -> str:
    return "fpatch_" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def big(client: MongoClient[dict[str, Any]], db_name: str) -> Iterator[Collection[dict[str, Any]]]:
    coll = client[db_name]["big"]
    for start in range(0, DOCS, 1000):
        coll.insert_many([{"_id": f"id{i:06d}", "n": i} for i in range(start, start + 1000)], ordered=False)
    yield coll
    client.drop_database(db_name)


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def test_the_running_server_is_the_patched_build(infra: Infra, client: MongoClient[dict[str, Any]]) -> None:
    assert infra.local is not None
    pid = read_pid(infra.local.ferret.pid_file)
    assert pid is not None
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():
        pytest.skip("no /proc to read the server's command line")
    argv0 = cmdline.read_bytes().split(b"\0")[0].decode()
    assert Path(argv0).name == FERRETDB_BUILD


def test_id_lookup_uses_the_index(big: Collection[dict[str, Any]]) -> None:
    step = DOCS // 50
    lookups = []
    for i in range(50):
        wanted = f"id{(i * step + 17) % DOCS:06d}"
        t0 = time.perf_counter()
        found = big.find_one({"_id": wanted})
        lookups.append(time.perf_counter() - t0)
        assert found is not None and found["_id"] == wanted
    scans = []
    for i in range(5):
        t0 = time.perf_counter()
        assert big.find_one({"n": -1 - i}) is None  # unindexed and absent: reads every document
        scans.append(time.perf_counter() - t0)
    by_id, scan = _median_ms(lookups), _median_ms(scans)
    print(f"\n[ferretdb patch] median _id lookup {by_id:.2f} ms, median scan {scan:.0f} ms "
          f"({scan / by_id:.0f}x) in {DOCS} documents")
    assert scan >= 20 * by_id, f"_id lookup {by_id:.2f} ms is not 20x faster than a scan ({scan:.1f} ms)"
    plan = big.database.command("explain", {"find": big.name, "filter": {"_id": "id000123"}})
    assert "USING INDEX" in str(plan.get("queryPlanner")), plan


def test_id_in_is_pushed_down_and_exact(big: Collection[dict[str, Any]]) -> None:
    ids = [f"id{i:06d}" for i in (3, 4_999, 49_999)]
    explain = big.database.command("explain", {"find": big.name, "filter": {"_id": {"$in": [*ids, "missing"]}}})
    assert explain["filterPushdown"] is True
    assert "USING INDEX" in str(explain.get("queryPlanner")), explain
    t0 = time.perf_counter()
    found = sorted(d["_id"] for d in big.find({"_id": {"$in": [*ids, "missing"]}}))
    print(f"\n[ferretdb patch] $in of 4 ids: {(time.perf_counter() - t0) * 1000:.1f} ms")
    assert found == ids
    # Shapes left to the upstream path (scan + filter in Go) still answer correctly.
    mixed = {"_id": {"$in": [ids[0], 7]}}
    assert big.database.command("explain", {"find": big.name, "filter": mixed})["filterPushdown"] is False
    assert [d["_id"] for d in big.find(mixed)] == [ids[0]]
    assert [d["_id"] for d in big.find({"_id": {"$in": [ids[1]], "$nin": [ids[1]]}})] == []
    assert [d["_id"] for d in big.find({"_id": {"$in": ids[:1]}, "n": 4_999})] == []
    assert big.find_one({"_id": {"$in": []}}) is None


def test_id_prefix_range_is_pushed_down_and_exact(client: MongoClient[dict[str, Any]], db_name: str) -> None:
    """`{_id: {$gte: "<owner>|", $lt: "<owner>}"}}` (how a collection keyed `<owner>|<item>` lists one owner's items)
    reads the `_id` index; ids the JSON text orders differently (escaped or non-ASCII characters) still answer
    exactly, and bounds the push-down cannot serve are left to the upstream scan."""
    col = client[db_name]["owners"]
    col.insert_many([{"_id": f"{owner:013d}|item{k:02d}", "v": "x" * 200} for owner in range(2_000) for k in range(5)])
    odd = ["0000000000007|a\"b", "0000000000007 x", "0000000000007", "0000000000007|é", "0000000000007|\u2028",
           "0000000000007}", "0000000000007|<&>", "0000000000007|\\"]
    col.insert_many([{"_id": o} for o in odd])
    lo, hi = "0000000000007|", "0000000000007}"
    explain = col.database.command("explain", {"find": col.name, "filter": {"_id": {"$gte": lo, "$lt": hi}}})
    assert explain["filterPushdown"] is True and "USING INDEX" in str(explain.get("queryPlanner")), explain
    expected = sorted([f"0000000000007|item{k:02d}" for k in range(5)] + [o for o in odd if lo <= o < hi])
    assert sorted(d["_id"] for d in col.find({"_id": {"$gte": lo, "$lt": hi}})) == expected
    unsafe = {"_id": {"$gte": lo, "$lt": "0000000000007|é"}}  # a bound the push-down does not take: scanned
    assert col.database.command("explain", {"find": col.name, "filter": unsafe})["filterPushdown"] is False
    assert sorted(d["_id"] for d in col.find(unsafe)) == [i for i in expected if i < "0000000000007|é"]


def test_object_id_lookups(client: MongoClient[dict[str, Any]], db_name: str) -> None:
    coll = client[db_name]["oids"]
    oids = [ObjectId() for _ in range(20)]
    coll.insert_many([{"_id": oid, "k": k} for k, oid in enumerate(oids)])
    doc = coll.find_one({"_id": oids[5]})
    assert doc is not None and doc["k"] == 5
    assert sorted(d["k"] for d in coll.find({"_id": {"$in": [oids[2], oids[11], ObjectId()]}})) == [2, 11]
    assert coll.update_one({"_id": oids[7]}, {"$set": {"x": 1}}).modified_count == 1
    assert coll.delete_one({"_id": oids[8]}).deleted_count == 1
    assert coll.count_documents({}) == 19


def test_bulk_upsert_of_500_existing_documents_returns(client: MongoClient[dict[str, Any]], db_name: str) -> None:
    coll = client[db_name]["bulk"]
    coll.insert_many([{"_id": f"b{i:03d}", "v": 0} for i in range(500)])
    t0 = time.perf_counter()
    result = coll.bulk_write([UpdateOne({"_id": f"b{i:03d}"}, {"$set": {"v": 1}}, upsert=True) for i in range(500)])
    took = time.perf_counter() - t0
    print(f"\n[ferretdb patch] bulk_write of 500 upserts on existing documents: {took:.2f} s")
    assert took < 60
    assert (result.matched_count, result.modified_count, result.upserted_count) == (500, 500, 0)
    assert coll.count_documents({"v": 1}) == 500
    # The database still answers afterwards (upstream, it stayed stuck for good).
    assert coll.find_one({"_id": "b000"}) == {"_id": "b000", "v": 1}
