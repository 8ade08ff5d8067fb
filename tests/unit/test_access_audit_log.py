"""The audit trail's group commit (`services/access/store/audit_log.py`) over an in-memory collection: callers wait
until their entry is stored (no audit, no access); what queues while a commit is under way goes in the next one,
at most one entry per patient per commit; an entry another replica got to first is appended again after it; each
stored document holds the entry (less an empty justification) and the commit is timed on /metrics."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry
from pymongo.errors import BulkWriteError

from services.access.domain import audit, audit_check
from services.access.store.audit_log import AuditLog, CommitTiming, _entry
from tests.fakes.access import TEST_AUDIT_KEYS, FakeCheckpoints

T0 = datetime(2026, 12, 7, 22, 0, tzinfo=UTC)
ANNA, BEN = "1893120105732", "1980051705781"


class Collection:
    """insert_many (held at `gate` while a commit is under way), find_one and find by `_id`."""

    name = "audit"

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.commits: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.database = {"audit_refs": self}

    async def insert_many(self, docs: list[dict[str, Any]], ordered: bool = True) -> None:
        self.commits.append([d["_id"] for d in docs])
        await self.gate.wait()
        errors = []
        for i, doc in enumerate(docs):
            if doc["_id"] in self.docs:
                errors.append({"index": i, "code": 11000, "errmsg": "duplicate key"})
            else:
                self.docs[doc["_id"]] = dict(doc)
        if errors:
            raise BulkWriteError({"writeErrors": errors})

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        return self.docs.get(query["_id"])

    async def update_one(self, query: dict[str, Any], update: dict[str, Any], upsert: bool = False) -> None:
        self.docs.setdefault(query["_id"], {"_id": query["_id"]}).update(update["$set"])

    def find(self, query: dict[str, Any], *_: Any) -> Any:
        bounds = query.get("_id", {})
        found = [d for k, d in sorted(self.docs.items())
                 if not bounds or bounds["$gte"] <= k < bounds["$lt"]]

        async def each() -> Any:
            for doc in found:
                yield doc
        return each()


def trail(collection: Collection, timing: CommitTiming | None = None) -> AuditLog:
    log = AuditLog(collection, TEST_AUDIT_KEYS, FakeCheckpoints(), refs=Collection(),  # type: ignore[arg-type]
                   timing=timing)
    log._all_heads_loaded = True  # as after load_heads on an empty collection
    return log


async def turns() -> None:
    """Let every task that can run, run (the writer takes the queue, the commit reaches the gate)."""
    for _ in range(10):
        await asyncio.sleep(0)


def read(log: AuditLog, patient: str, actor: str = "DR-1") -> Any:
    return log.append(patient, T0, "professional", actor, "read", "doc-1", True, "trusted-circle", via="gateway")


def test_what_queues_during_a_commit_goes_in_the_next_one_one_entry_per_patient_each() -> None:
    async def run() -> None:
        collection = Collection()
        log = trail(collection)
        collection.gate.clear()
        first = asyncio.ensure_future(read(log, ANNA))
        await turns()  # its commit is under way, held at the gate
        assert collection.commits == [[f"{ANNA}:{0:012d}"]] and not first.done()  # no answer before it is stored
        queued = [asyncio.ensure_future(read(log, p, a)) for p, a in ((ANNA, "DR-2"), (BEN, "DR-1"), (ANNA, "DR-3"))]
        await turns()
        assert len(collection.commits) == 1  # one commit at a time: nothing overtakes the one under way
        collection.gate.set()
        entries = await asyncio.gather(first, *queued)
        assert collection.commits[1:] == [[f"{ANNA}:{1:012d}", f"{BEN}:{0:012d}"], [f"{ANNA}:{2:012d}"]]
        assert [(e.patient, e.seq, e.actor_id) for e in entries] == [
            (ANNA, 0, "DR-1"), (ANNA, 1, "DR-2"), (BEN, 0, "DR-1"), (ANNA, 2, "DR-3")]
        assert audit_check.verify(await log.chain(ANNA), TEST_AUDIT_KEYS.entries, None, ANNA).intact

    asyncio.run(run())


def test_an_entry_another_replica_stored_first_is_appended_after_it() -> None:
    async def run() -> None:
        collection = Collection()
        theirs = audit.append(None, ANNA, TEST_AUDIT_KEYS.entries, T0, "professional", "DR-9", "read", None, True,
                              "trusted-circle")
        collection.docs[f"{ANNA}:{0:012d}"] = {"_id": f"{ANNA}:{0:012d}", **theirs.__dict__}
        log = trail(collection)
        mine = await read(log, ANNA)
        assert (mine.seq, mine.prev_hash) == (1, theirs.hash)
        assert audit_check.verify(await log.chain(ANNA), TEST_AUDIT_KEYS.entries, None, ANNA).intact

    asyncio.run(run())


def test_a_stored_entry_reads_back_the_same_without_its_empty_fields_and_the_commit_is_timed() -> None:
    async def run() -> None:
        collection, registry = Collection(), CollectorRegistry()
        log = trail(collection, CommitTiming(registry))
        plain = await read(log, ANNA)
        glass = await log.append(BEN, T0, "professional", "DR-1", "break-the-glass", None, True, "emergency",
                                 ref="cmd-1", justification="patient unconscious in the emergency room")
        stored = collection.docs[f"{ANNA}:{0:012d}"]
        assert "justification" not in stored and "ref" not in stored and _entry(stored) == plain
        stored = collection.docs[f"{BEN}:{0:012d}"]
        assert stored["ref"] == "cmd-1" and _entry(stored) == glass
        assert registry.get_sample_value("dsp_access_audit_commit_entries_count") == 2
        assert registry.get_sample_value("dsp_access_audit_queue_seconds_count") == 2
        assert registry.get_sample_value("dsp_access_audit_commit_seconds_count") == 2

    asyncio.run(run())
