"""The audit trail only access can write (issue 24, "Trust II"), on the real Kafka and FerretDB: an entry appended to a
patient's trail with notify's MongoDB credentials (FerretDB lets any user write any database) and a deleted tail
entry are both named by `verify-audit-trail` — the first because access did not sign it, the second thanks to
access's checkpoint on `access.audit-heads.v1`, which only access may write; a restarted replica continues after the
checkpoint, never refilling what was removed; a patient's whole trail comes signed and verifies with the key access
publishes, and a professional gets none."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import TopicAuthorizationFailedError
from pydantic import SecretStr
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from infra.local import LocalInfra
from services.access.domain import signing
from services.access.domain.audit import GENESIS, AuditEntry, AuditKeys
from services.access.store import AccessStore
from services.kit.mongo import make_client
from tests.inprocess import FakeClock, InProcessWorker
from tests.integration.access_support import Gateway, TopicReader, access_worker, guardian_of, people
from tests.support import MONGO_ADMIN_URIS, MONGO_USERS, audit_keys_for_tests, kafka_options, make_matricule

ADULT, PARENT, CHILD = date(1979, 3, 14), date(1982, 8, 2), date(2016, 4, 9)
TOPIC = "access.audit-heads.v1"


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def prefix(run_id: str) -> str:
    return f"{run_id}trust"


@pytest.fixture(scope="module")
def pseudonym_key() -> str:
    return secrets.token_hex(24)


@pytest.fixture(scope="module")
def local(infra: Any) -> LocalInfra:
    if infra.local is None:  # the project's FerretDB (one user per service) and secured broker (ACLs)
        pytest.skip(f"the infrastructure is {infra.mode!r}: no per-service MongoDB users or Kafka ACLs to attack with")
    return infra.local  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def access(local: LocalInfra, infra: Any, prefix: str, clock: FakeClock,
           pseudonym_key: str) -> Iterator[InProcessWorker]:
    worker = access_worker(infra, prefix, clock, pseudonym_key).start()
    yield worker
    worker.stop()


@pytest.fixture
async def gw(access: InProcessWorker, producer: AIOKafkaProducer, infra: Any,
             clock: FakeClock) -> AsyncIterator[Gateway]:
    clock.set(datetime.now(clock.now.tzinfo).replace(microsecond=0))
    outcomes = await TopicReader(infra.bootstrap, "access.events.v1").start()
    yield Gateway(producer, outcomes, access)
    await outcomes.stop()


@pytest.fixture
def db(mongo: AsyncMongoClient[dict[str, Any]], prefix: str) -> AsyncDatabase[dict[str, Any]]:
    return mongo[f"{prefix}_access"]


@pytest.fixture
async def as_notify(local: LocalInfra, prefix: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """access's database, reached with notify's own MongoDB user and password (what the finding used)."""
    user, password = MONGO_USERS["notify"]
    client = make_client(MONGO_ADMIN_URIS[local.ferret.admin_uri], "attacker", user, SecretStr(password))
    yield client[f"{prefix}_access"]
    await client.close()


@pytest.fixture
def keys(prefix: str) -> AuditKeys:
    """access's audit keys in this module (tests.support gives each database prefix its own)."""
    return AuditKeys.derive(audit_keys_for_tests(prefix)["DSP_ACCESS_AUDIT_KEY"].encode())


async def _chain(db: AsyncDatabase[dict[str, Any]], patient: str) -> list[dict[str, Any]]:
    return sorted([raw async for raw in db["audit"].find({"patient": patient})], key=lambda raw: raw["seq"])


async def _checkpoint(infra: Any, pseudonym: str, seq: int, within_s: float = 20.0) -> dict[str, Any]:
    """The newest checkpoint of the chain named `pseudonym` on the topic once it reaches `seq` (read as admin)."""
    consumer = AIOKafkaConsumer(TOPIC, **kafka_options(infra.bootstrap), group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    deadline, found = time.monotonic() + within_s, None
    try:
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                for record in records:
                    if record.key == pseudonym.encode():
                        found = {"key": record.key, "value": record.value, **json.loads(record.value)}
            if found is not None and signing.read_checkpoint(found["jws"], pseudonym).seq >= seq:
                return found
    finally:
        await consumer.stop()
    raise AssertionError(f"no checkpoint of entry {seq} within {within_s}s (last: {found})")


def _forged_read(previous: dict[str, Any], doctor: str) -> dict[str, Any]:
    """The finding's forgery: a read by a doctor who never read, in the format of entries from before the key (a
    plain SHA-256 over the previous hash and the body: anybody can compute it), linked to the chain's head."""
    seq = previous["seq"] + 1
    entry = AuditEntry(previous["patient"], seq, previous["at"], "professional", doctor, "read", "doc-secret", True,
                       "trusted-circle", previous["hash"], via="gateway")
    entry = replace(entry, hash=hashlib.sha256(entry.prev_hash.encode() + entry.body()).hexdigest())
    fields = {k: getattr(entry, k) for k in ("patient", "seq", "at", "actor_kind", "actor_id", "action", "document",
                                              "allowed", "reason", "prev_hash", "hash", "via")}
    return {"_id": f"{entry.patient}:{seq:012d}", "ref": None, **fields}


async def test_an_entry_written_with_notifys_password_is_named_even_after_access_appends_again(
        gw: Gateway, db: Any, as_notify: Any, unique: str, keys: AuditKeys, infra: Any) -> None:
    dr, never = f"DR-{unique}", f"NEVER-{unique}"
    [patient] = await people(gw, db, unique, ADULT, pros=(dr,))
    assert (await gw.run(patient, "add-to-circle", ("patient", patient), professional_id=dr))["accepted"]
    for doc in ("doc-1", "doc-2"):
        assert (await gw.decide(("professional", dr), patient, document=doc))["allowed"]
    stored = await _chain(db, patient)
    assert [raw["mac"] for raw in stored] == ["hmac-sha256"] * 3  # every entry access wrote is keyed
    await _checkpoint(infra, keys.pseudonym(patient), stored[-1]["seq"])

    forged = _forged_read(stored[-1], never)
    await as_notify["audit"].insert_one(forged)  # FerretDB v1: notify's password opens access's database
    status, trail = await gw.post("/v1/audit", {"actor": {"kind": "patient", "id": patient}, "patient": patient})
    assert status == 200 and trail["items"][0]["who"]["id"] == never  # Traçabilité shows the false read ...
    outcome = await gw.run(patient, "verify-audit-trail", ("patient", patient))
    assert outcome["reason"] == (f"audit trail broken at entry {forged['seq']}: not written by access (no entry "
                                 "access signed, nor its checkpoint, vouches for it)")  # ... verification names it
    assert (outcome["details"]["first_broken"], outcome["details"]["problem"]) == (str(forged["seq"]),
                                                                                   "not written by access")

    assert (await gw.decide(("professional", dr), patient, document="doc-3"))["allowed"]  # access appends again
    chain = await _chain(db, patient)
    assert chain[-1]["document"] == "doc-3" and all(raw["mac"] == "hmac-sha256" for raw in chain[forged["seq"] + 1:])
    assert chain[forged["seq"] + 1]["prev_hash"] == stored[-1]["hash"]  # linked past the forged entry: not vouched
    again = await gw.run(patient, "verify-audit-trail", ("operator", "helpdesk-1"))
    assert again["details"]["first_broken"] == str(forged["seq"])

    # a forger who marks the entry as keyed cannot make its MAC: forged
    [other] = await people(gw, db, f"{unique}b", ADULT, pros=())
    await gw.run(other, "set-emergency-access", ("patient", other), refused=False)
    head = (await _chain(db, other))[-1]
    keyed = {**_forged_read(head, never), "mac": "hmac-sha256"}
    await as_notify["audit"].insert_one(keyed)
    forged_mac = await gw.run(other, "verify-audit-trail", ("patient", other))
    assert forged_mac["reason"] == (f"audit trail broken at entry {keyed['seq']}: forged (its MAC does not match its "
                                    "content)")


async def _read_three(gw: Gateway, db: Any, unique: str, dr: str) -> tuple[str, dict[str, Any]]:
    """A patient whose doctor read three documents; the chain's last entry once access checkpointed it."""
    [patient] = await people(gw, db, unique, ADULT, pros=(dr,))
    assert (await gw.run(patient, "add-to-circle", ("patient", patient), professional_id=dr))["accepted"]
    for doc in ("doc-1", "doc-2", "doc-3"):
        assert (await gw.decide(("professional", dr), patient, document=doc))["allowed"]
    return patient, (await _chain(db, patient))[-1]


async def test_a_deleted_tail_entry_is_named_thanks_to_the_checkpoint(gw: Gateway, db: Any, as_notify: Any,
                                                                      unique: str, keys: AuditKeys, infra: Any,
                                                                      prefix: str) -> None:
    signer = signing.AuditSigner(audit_keys_for_tests(prefix)["DSP_ACCESS_AUDIT_SIGNING_KEY"])
    patient, last = await _read_three(gw, db, unique, f"DR-{unique}")
    record = await _checkpoint(infra, keys.pseudonym(patient), last["seq"])
    assert patient.encode() not in record["key"] and patient.encode() not in record["value"]  # no matricule
    checked = signing.check_checkpoint(record["jws"], signing.public_keys(signer.jwks()), keys.pseudonym(patient))
    assert checked.token == record["jws"]  # signed by access's audit signing key
    assert (checked.seq, checked.hash) == (last["seq"], last["hash"])

    await as_notify["audit"].delete_one({"_id": last["_id"]})  # the read of doc-3 removed: the rest still links
    outcome = await gw.run(patient, "verify-audit-trail", ("patient", patient))
    assert outcome["reason"] == (f"audit trail broken at entry {last['seq']}: removed (the chain ends at entry "
                                 f"{last['seq'] - 1}; access checkpointed entry {last['seq']})")
    assert await db["audit"].find_one({"_id": last["_id"]}) is None  # the verification's own entry took the next seq


async def test_a_restarted_replica_continues_after_the_checkpoint_never_refilling_a_removed_entry(
        gw: Gateway, db: Any, as_notify: Any, unique: str, keys: AuditKeys, infra: Any, prefix: str,
        clock: FakeClock, pseudonym_key: str) -> None:
    dr = f"DR-{unique}"
    patient, last = await _read_three(gw, db, unique, dr)
    await _checkpoint(infra, keys.pseudonym(patient), last["seq"])
    await as_notify["audit"].delete_one({"_id": last["_id"]})  # the stored head is now one entry lower

    second = access_worker(infra, prefix, clock, pseudonym_key).start()  # reads the checkpoints at start
    try:
        read = await Gateway(gw.producer, gw.outcomes, second).decide(("professional", dr), patient, document="doc-4")
        assert read["allowed"] and read["audit_seq"] == last["seq"] + 1  # after the checkpoint, not in its place
    finally:
        second.stop()
    appended = (await _chain(db, patient))[-1]
    assert (appended["document"], appended["prev_hash"]) == ("doc-4", last["hash"])  # linked to what was checkpointed
    outcome = await gw.run(patient, "verify-audit-trail", ("operator", "helpdesk-1"))
    assert outcome["reason"] == f"audit trail broken at entry {last['seq']}: removed (missing from the chain)"


async def test_the_trail_keeps_only_its_unique_id_index(access: InProcessWorker, db: Any) -> None:
    """`_id` = patient:seq is what keeps a chain from forking; the (patient, seq) index an older access made is
    dropped at start (nothing reads by it, and on FerretDB it was one more B-tree in every audit commit)."""
    await db["audit"].create_index([("patient", 1), ("seq", -1)], unique=True)
    await AccessStore(db).ensure_indexes()
    assert list(await db["audit"].index_information()) == ["_id_"]
    await AccessStore(db).ensure_indexes()  # again, with nothing to drop
    assert list(await db["audit"].index_information()) == ["_id_"]


async def test_only_access_may_write_the_checkpoints(local: LocalInfra, access: InProcessWorker) -> None:
    for principal in ("notify", "records", "activation", "gateway", "console"):
        producer = AIOKafkaProducer(**local.kafka.client_options(principal), acks="all", request_timeout_ms=10_000)
        await producer.start()
        try:
            with pytest.raises(TopicAuthorizationFailedError):
                await producer.send_and_wait(TOPIC, b'{"jws": "forged"}', key=b"0" * 64)
        finally:
            await producer.stop()


async def test_a_patient_gets_her_whole_trail_signed_and_a_professional_gets_none(gw: Gateway, db: Any,
                                                                                 unique: str) -> None:
    dr = f"DR-{unique}"
    [patient, parent, child] = await people(gw, db, unique, ADULT, PARENT, CHILD, pros=(dr,))
    await gw.run(patient, "add-to-circle", ("patient", patient), professional_id=dr)
    await gw.decide(("professional", dr), patient, document="doc-1")
    await guardian_of(gw, db, unique, child, parent)
    assert (await gw.run(child, "add-assistant", ("patient", child), assistant=parent))["accepted"]

    status, jwks = await gw.post("/v1/audit/keys", {})
    assert status == 200 and [k["kty"] for k in jwks["keys"]] == ["OKP"]
    keys = signing.public_keys(jwks)
    status, document = await gw.post("/v1/audit/export", {"actor": {"kind": "patient", "id": patient},
                                                          "patient": patient})
    assert status == 200
    signing.check_document(document, keys)
    assert [(e["seq"], e["action"], e["document"]) for e in document["entries"]] == [
        (0, "add-to-circle", None), (1, "read", "doc-1")]
    assert document["entries"][1]["who"]["name"] == "Paul Hoffmann" and document["head"]["seq"] == 1
    assert document["verification"]["intact"] is True and document["patient"] == patient
    changed = json.loads(json.dumps(document).replace('"doc-1"', '"doc-7"'))
    with pytest.raises(signing.BadSignature):
        signing.check_document(changed, keys)

    status, for_child = await gw.post("/v1/audit/export", {"actor": {"kind": "patient", "id": parent},
                                                           "patient": child})
    assert status == 200 and for_child["patient"] == child  # the child's DSP assistant
    signing.check_document(for_child, keys)
    for actor in ({"kind": "professional", "id": dr}, {"kind": "patient", "id": parent}):
        status, refused = await gw.post("/v1/audit/export", {"actor": actor, "patient": patient})
        assert status == 403, refused
    assert GENESIS == document["entries"][0]["prev_hash"]


def _legacy_chain(patient: str, count: int, doctor: str) -> list[dict[str, Any]]:
    """`count` entries in the format from before the key, as stored then (no `mac`)."""
    docs: list[dict[str, Any]] = []
    at = datetime.now(UTC).replace(microsecond=0)
    for seq in range(count):
        entry = AuditEntry(patient, seq, at, "professional", doctor, "read", f"doc-{seq}", True, "trusted-circle",
                           docs[-1]["hash"] if docs else GENESIS, via="gateway")
        entry = replace(entry, hash=hashlib.sha256(entry.prev_hash.encode() + entry.body()).hexdigest())
        docs.append({"_id": f"{patient}:{seq:012d}", "ref": None, **{k: getattr(entry, k) for k in (
            "patient", "seq", "at", "actor_kind", "actor_id", "action", "document", "allowed", "reason", "prev_hash",
            "hash", "via")}})
    return docs


async def _post(worker: InProcessWorker, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """access's API as the gateway calls it (a service token), on a worker of its own."""
    status, text = await asyncio.to_thread(worker.http, "POST", path, json.dumps(body).encode())
    assert status == 200, text
    answer: dict[str, Any] = json.loads(text)
    return answer


async def _export(worker: InProcessWorker, patient: str) -> dict[str, Any]:
    return await _post(worker, "/v1/audit/export", {"actor": {"kind": "patient", "id": patient}, "patient": patient})


async def _read(worker: InProcessWorker, doctor: str, patient: str, document: str) -> dict[str, Any]:
    return await _post(worker, "/v1/decisions", {"actor": {"kind": "professional", "id": doctor}, "action": "read",
                                                 "patient": patient, "document": document})


async def test_chains_from_before_the_key_are_sealed_once_and_an_unsigned_chain_after_that_is_nobodys(
        local: LocalInfra, infra: Any, mongo: AsyncMongoClient[dict[str, Any]], prefix: str, clock: FakeClock,
        pseudonym_key: str, unique: str) -> None:
    older = f"{prefix}old"  # a deployment of its own (database, keys), whose trail predates the key
    db = mongo[f"{older}_access"]
    keys = AuditKeys.derive(audit_keys_for_tests(older)["DSP_ACCESS_AUDIT_KEY"].encode())
    patient, planted = make_matricule(date(1961, 5, 4), 11), make_matricule(date(1962, 6, 5), 12)
    await db["audit"].insert_many(_legacy_chain(patient, 3, f"DR-{unique}"))

    first = access_worker(infra, older, clock, pseudonym_key).start()  # its first start with keyed entries
    try:
        await _checkpoint(infra, keys.pseudonym(patient), 2)  # the chain it found, checkpointed as found
        assert (await _export(first, patient))["verification"]["reason"] == "audit trail intact"
        assert (await _read(first, f"DR-{unique}", patient, "doc-9"))["audit_seq"] == 3
        after = await _export(first, patient)
        assert [e["mac"] for e in after["entries"]] == ["", "", "", "hmac-sha256"]  # vouched for by its successor
        assert after["entries"][3]["prev_hash"] == after["entries"][2]["hash"]
        assert after["verification"]["intact"] is True
    finally:
        first.stop()

    await db["audit"].insert_many(_legacy_chain(planted, 2, f"NEVER-{unique}"))  # written later, by someone else
    again = access_worker(infra, older, clock, pseudonym_key).start()  # sealed already: adopts nothing
    try:
        found = await _export(again, planted)
        assert found["verification"]["reason"].startswith("audit trail broken at entry 0: not written by access")
        assert (await _read(again, f"DR-{unique}", planted, "doc-9"))["audit_seq"] == 2
        still = await _export(again, planted)
        assert still["entries"][2]["prev_hash"] == GENESIS  # access's entry vouches for none of them
        assert still["verification"]["reason"].startswith("audit trail broken at entry 0: not written by access")
        assert (await _export(again, patient))["verification"]["intact"] is True
    finally:
        again.stop()
