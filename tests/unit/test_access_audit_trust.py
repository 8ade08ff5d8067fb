"""The audit trail only access can write (issue 24, "Trust II"): entries keyed with access's key, verification against
access's checkpoint naming the first forged, removed or reordered entry or one access did not write, where access
continues a chain it reloads, the signed checkpoints (coalesced, off the decision's path) and the signed export a
patient checks offline."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.access import verify_export
from services.access.domain import audit, audit_check, signing
from services.access.domain.audit import GENESIS, AuditEntry, AuditKeys, Head
from services.access.domain.audit_check import Problem
from services.access.service.audit_export import export_document
from services.access.service.checkpoints import CheckpointBook
from services.kit.servicetokens import new_key

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
PATIENT, OTHER = "1893120105732", "1980051705781"
KEYS = AuditKeys.derive(b"access's audit key in these tests")
KEY = KEYS.entries
SIGNER = signing.AuditSigner(new_key()[0])


def chain(n: int, patient: str = PATIENT, key: bytes = KEY) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    for i in range(n):
        entries.append(audit.append(entries[-1].head if entries else None, patient, key, T0 + timedelta(minutes=i),
                                    "professional", f"PRO-{i % 3}", "read", f"doc-{i}", True, "trusted-circle"))
    return entries


def legacy(n: int, patient: str = PATIENT, after: Head | None = None) -> list[AuditEntry]:
    """Entries in the format from before the key (a plain SHA-256, no `mac`): what anybody can compute."""
    entries: list[AuditEntry] = []
    for _ in range(n):
        head = entries[-1].head if entries else after
        seq, prev = (0, GENESIS) if head is None else (head.seq + 1, head.hash)
        entry = AuditEntry(patient, seq, T0 + timedelta(minutes=seq), "professional", "DR-FAKE", "read", f"doc-{seq}",
                           True, "trusted-circle", prev)
        entries.append(replace(entry, hash=audit.digest(entry, KEY) or ""))
    return entries


def verdict(entries: list[AuditEntry], checkpoint: Head | None = None) -> tuple[int | None, Problem | None]:
    found = audit_check.verify(entries, KEY, checkpoint, PATIENT)
    return found.at, found.problem


# --- verification: every case ---------------------------------------------------------------------------------

def test_an_intact_keyed_chain_verifies_with_its_checkpoint_and_says_what_is_not_checkpointed_yet() -> None:
    entries = chain(6)
    found = audit_check.verify(entries, KEY, entries[3].head, PATIENT)
    assert found.intact and found.reason == "audit trail intact" and found.entries == 6
    assert found.head == entries[5].head and found.unchecked == 2  # entries 4 and 5: after the checkpoint
    assert audit_check.verify(entries, KEY, None, PATIENT).unchecked == 6
    assert audit_check.verify([], KEY, None, PATIENT).intact


def test_a_forged_body_is_named() -> None:
    entries = chain(5)
    entries[2] = replace(entries[2], actor_id="DR-NEVER-READ")
    found = audit_check.verify(entries, KEY, entries[4].head, PATIENT)
    assert (found.at, found.problem) == (2, Problem.FORGED)
    assert found.reason == "audit trail broken at entry 2: forged (its MAC does not match its content)"


def test_a_forged_mac_is_named_whatever_it_was_computed_with() -> None:
    entries = chain(5)
    plain_sha = replace(entries[3], hash=hashlib.sha256(entries[3].prev_hash.encode() + entries[3].body()).hexdigest())
    assert verdict([*entries[:3], plain_sha, entries[4]]) == (3, Problem.FORGED)
    other_key = audit.seal(replace(entries[3], reason="another reason"), b"a key that is not access's")
    assert verdict([*entries[:3], other_key, entries[4]]) == (3, Problem.FORGED)
    unknown_format = replace(entries[3], mac="sha3")
    assert verdict([*entries[:3], unknown_format, entries[4]]) == (3, Problem.FORGED)


def test_a_removed_middle_entry_is_named() -> None:
    entries = chain(6)
    found = audit_check.verify(entries[:2] + entries[3:], KEY, entries[5].head, PATIENT)
    assert (found.at, found.problem, found.why) == (2, Problem.REMOVED, "missing from the chain")


def test_a_truncated_tail_is_found_thanks_to_the_checkpoint() -> None:
    entries = chain(6)
    assert verdict(entries[:4]) == (None, None)  # without a checkpoint, a cut tail leaves a valid chain
    found = audit_check.verify(entries[:4], KEY, entries[5].head, PATIENT)
    assert (found.at, found.problem) == (4, Problem.REMOVED)
    assert found.why == "the chain ends at entry 3; access checkpointed entry 5"
    assert verdict([], entries[0].head) == (0, Problem.REMOVED)  # the whole chain deleted


def test_reordered_entries_are_named() -> None:
    entries = chain(5)
    found = audit_check.verify([entries[0], entries[2], entries[1], *entries[3:]], KEY, None, PATIENT)
    assert (found.at, found.problem, found.why) == (1, Problem.REORDERED, "entry 2 stands where entry 1 belongs")
    assert verdict([entries[0], entries[1], entries[1], *entries[2:]]) == (2, Problem.REORDERED)  # one twice


def test_a_replaced_whole_chain_is_named_at_its_first_entry() -> None:
    original = chain(4)
    forged = legacy(4)  # every link valid, every hash a plain SHA-256: no key needed
    assert verdict(forged, original[3].head) == (0, Problem.UNSIGNED)
    assert verdict(legacy(2), original[3].head) == (0, Problem.UNSIGNED)  # shorter too
    assert verdict(chain(4, key=b"not access's key"), original[3].head) == (0, Problem.FORGED)
    assert verdict(chain(4, patient=OTHER), original[3].head) == (0, Problem.FORGED)  # another patient's chain


def test_older_entries_are_vouched_for_by_a_keyed_successor_or_by_the_checkpoint() -> None:
    old = legacy(3)  # written before the key existed
    keyed = [audit.append(old[-1].head, PATIENT, KEY, T0 + timedelta(hours=1), "patient", PATIENT, "add-to-circle",
                          None, True, "added")]
    keyed.append(audit.append(keyed[0].head, PATIENT, KEY, T0 + timedelta(hours=2), "professional", "DR-1", "read",
                              "doc-1", True, "trusted-circle"))
    assert verdict(old + keyed) == (None, None)
    assert verdict(old, old[-1].head) == (None, None)  # access's seal: the checkpoint of the chain it found
    assert verdict(old) == (0, Problem.UNSIGNED)  # nothing access signed vouches for them
    rewritten = legacy(3)
    rewritten[1] = replace(rewritten[1], reason="rewritten")
    rewritten[1] = replace(rewritten[1], hash=audit.digest(rewritten[1], KEY) or "")  # re-hashed: looks valid alone
    assert verdict([*rewritten[:2], old[2], *keyed]) == (1, Problem.FORGED)  # not what its successor vouches for


def test_an_unkeyed_entry_after_the_last_keyed_one_is_named_even_once_access_links_past_it() -> None:
    entries = chain(4)
    planted = legacy(1, after=entries[-1].head)  # the finding's attack: a read by a doctor who never read
    found = audit_check.verify(entries + planted, KEY, entries[3].head, PATIENT)
    assert (found.at, found.problem) == (4, Problem.UNSIGNED)
    assert found.reason == ("audit trail broken at entry 4: not written by access (no entry access signed, nor "
                            "its checkpoint, vouches for it)")
    # access reloads the head, finds an entry it did not sign on top, and links its next entry past it
    resumed = audit.resume(planted[0], entries[3], entries[3].head)
    assert resumed == Head(4, entries[3].hash)
    after = audit.append(resumed, PATIENT, KEY, T0 + timedelta(hours=1), "professional", "DR-1", "read", "doc-9",
                         True, "trusted-circle")
    assert (after.seq, after.prev_hash) == (5, entries[3].hash)
    assert verdict(entries + planted + [after], after.head) == (4, Problem.UNSIGNED)


# --- where access continues a chain -----------------------------------------------------------------------------

def test_resume_continues_after_the_highest_seq_and_links_to_what_access_can_vouch_for() -> None:
    entries = chain(6)
    assert audit.resume(None, None, None) is None  # a new chain
    assert audit.resume(entries[5], entries[5], entries[3].head) == entries[5].head  # the usual case
    # the tail was deleted below the checkpoint: continue after the checkpoint, never refill the removed seqs
    assert audit.resume(entries[3], entries[3], entries[5].head) == entries[5].head
    next_entry = audit.append(entries[5].head, PATIENT, KEY, T0, "patient", PATIENT, "manage", None, True, "owner")
    assert verdict([*entries[:4], next_entry], next_entry.head) == (4, Problem.REMOVED)
    assert audit.resume(None, None, entries[5].head) == entries[5].head  # the whole chain deleted
    old = legacy(3)
    assert audit.resume(old[2], None, None) == Head(2, GENESIS)  # nobody's chain: started afresh, vouching for none
    assert audit.resume(old[2], None, None, adopt=True) == old[2].head  # taken as found, once, when sealing
    assert audit.resume(old[2], None, old[1].head) == Head(2, old[1].hash)  # above the seal's checkpoint: linked past


# --- signatures -------------------------------------------------------------------------------------------------

def test_the_key_set_names_the_key_by_its_rfc7638_thumbprint() -> None:
    # RFC 8037 appendix A: an Ed25519 key and its JWK thumbprint (RFC 7638)
    d = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
    seed = base64.b64encode(base64.urlsafe_b64decode(d + "=")).decode()
    rfc = signing.AuditSigner(seed)
    assert rfc.jwks() == {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                                    "kid": "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", "alg": "EdDSA",
                                    "use": "sig"}]}
    assert signing.public_keys(rfc.jwks()).keys() == {rfc.kid}


def test_a_checkpoint_is_signed_names_no_matricule_and_holds_only_for_its_chain_and_key() -> None:
    pseudonym = KEYS.pseudonym(PATIENT)
    assert PATIENT not in pseudonym and len(pseudonym) == 64 and pseudonym != KEYS.pseudonym(OTHER)
    made = SIGNER.checkpoint(pseudonym, Head(7, "ab" * 32), 1_764_000_000)
    assert PATIENT not in made.token
    keys = signing.public_keys(SIGNER.jwks())
    assert signing.check_checkpoint(made.token, keys, pseudonym) == made
    assert signing.read_checkpoint(made.token, pseudonym) == made
    with pytest.raises(signing.BadSignature):
        signing.check_checkpoint(made.token, keys, KEYS.pseudonym(OTHER))
    with pytest.raises(signing.BadSignature):
        signing.check_checkpoint(made.token, signing.public_keys(signing.AuditSigner(new_key()[0]).jwks()), pseudonym)
    header, payload, signature = made.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps({**claims, "seq": 9}).encode()).rstrip(b"=").decode()
    with pytest.raises(signing.BadSignature):
        signing.check_checkpoint(f"{header}.{forged}.{signature}", keys, pseudonym)


def _export(entries: list[AuditEntry], checkpoint: Any = None) -> dict[str, Any]:
    found = audit_check.verify(entries, KEY, checkpoint.head if checkpoint else None, PATIENT)
    named = {("professional", e.actor_id): "Dr Paul Hoffmann" for e in entries}
    return SIGNER.sign(export_document(PATIENT, entries, found, checkpoint, named, T0 + timedelta(days=1)))


def test_an_export_verifies_with_the_published_key_and_a_changed_byte_does_not(tmp_path: Path) -> None:
    entries = chain(4)
    checkpoint = SIGNER.checkpoint(KEYS.pseudonym(PATIENT), entries[2].head, 1_764_000_000)
    document = _export(entries, checkpoint)
    keys = signing.public_keys(SIGNER.jwks())
    signing.check_document(document, keys)
    signing.check_document(json.loads(json.dumps(document, indent=4)), keys)  # re-indented: the same content
    raw = json.dumps(document).encode()
    where = raw.index(b"trusted-circle")
    changed = raw[:where] + b"T" + raw[where + 1:]  # one byte of one entry's reason
    with pytest.raises(signing.BadSignature):
        signing.check_document(json.loads(changed), keys)
    with pytest.raises(signing.BadSignature):
        signing.check_document({**document, "entries": document["entries"][:-1]}, keys)  # an entry left out
    with pytest.raises(signing.BadSignature):
        signing.check_document(document, signing.public_keys(signing.AuditSigner(new_key()[0]).jwks()))

    path, jwks = tmp_path / "trail.json", tmp_path / "jwks.json"
    jwks.write_text(json.dumps(SIGNER.jwks()))
    path.write_bytes(raw)
    holds, broken = verify_export.check(document, SIGNER.jwks())
    assert not broken and any("checkpoint: valid, entry 2" in line for line in holds)
    assert verify_export.main([str(path), "--keys", str(jwks)]) == 0
    path.write_bytes(changed)
    assert verify_export.main([str(path), "--keys", str(jwks)]) == 1
    path.write_bytes(b"not json")
    assert verify_export.main([str(path), "--keys", str(jwks)]) == 2


def test_an_export_holds_every_entry_as_the_chain_does_with_who_named_and_the_verdict() -> None:
    entries = chain(3)
    document = _export(entries)
    assert [(e["seq"], e["hash"], e["prev_hash"], e["mac"]) for e in document["entries"]] == [
        (e.seq, e.hash, e.prev_hash, e.mac) for e in entries]
    assert document["entries"][0]["who"] == {"kind": "professional", "id": "PRO-0", "name": "Dr Paul Hoffmann"}
    assert document["head"] == {"seq": 2, "hash": entries[2].hash} and document["checkpoint"] is None
    assert document["verification"] == {"intact": True, "reason": "audit trail intact", "not_checkpointed": 3}
    assert document["signature"]["kid"] == SIGNER.kid and ".." in document["signature"]["jws"]
    rebuilt = [AuditEntry(PATIENT, e["seq"], datetime.fromisoformat(e["at"]), e["actor_kind"], e["actor_id"],
                          e["action"], e["document"], e["allowed"], e["reason"], e["prev_hash"], e["hash"], e["via"],
                          e["justification"], e["mac"]) for e in document["entries"]]
    assert audit_check.verify(rebuilt, KEY, None, PATIENT).intact  # what access can check again, with its key


# --- the checkpoint book (no Kafka: its publisher is a list) -----------------------------------------------------

class Published:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, dict[str, Any]]] = []
        self.failing = False

    async def __call__(self, value: dict[str, Any], key: bytes) -> None:
        if self.failing:
            raise ConnectionError("broker down")
        self.sent.append((key, value))


def book(published: Published) -> CheckpointBook:
    return CheckpointBook(KEYS, SIGNER, {}, lambda: T0, interval_s=0.5, publish=published)


def test_heads_are_noted_on_the_decision_path_and_published_coalesced_per_patient() -> None:
    published = Published()
    heads = book(published)
    entries, other = chain(5), chain(2, patient=OTHER)
    for entry in entries + other:
        heads.note(entry.patient, entry.head)  # a dict update: nothing is sent yet
    assert published.sent == [] and heads.waiting == 2
    assert asyncio.run(heads.flush()) == 2
    assert {key.decode() for key, _ in published.sent} == {KEYS.pseudonym(PATIENT), KEYS.pseudonym(OTHER)}
    assert all(PATIENT not in json.dumps(value) and OTHER not in json.dumps(value) for _, value in published.sent)
    mine, theirs = heads.checked(PATIENT), heads.latest(OTHER)
    assert mine is not None and mine.head == entries[4].head
    assert theirs is not None and theirs.head == other[1].head
    assert asyncio.run(heads.flush()) == 0 and len(published.sent) == 2  # nothing new: nothing sent


def test_a_flush_of_many_heads_sends_them_chunk_by_chunk_leaving_the_event_loop_to_decisions_between() -> None:
    from services.access.service import checkpoints

    published, in_flight, most, turns = Published(), [0], [0], [0]
    heads = CheckpointBook(KEYS, SIGNER, {}, lambda: T0, interval_s=0.5, publish=None)

    async def send(value: dict[str, Any], key: bytes) -> None:
        in_flight[0] += 1
        most[0] = max(most[0], in_flight[0])
        await asyncio.sleep(0)  # the broker's acknowledgement
        in_flight[0] -= 1
        await published(value, key)

    heads.publish = send
    patients = [f"P{i:04d}" for i in range(checkpoints.CHUNK * 3 + 7)]
    for patient in patients:
        heads.note(patient, Head(0, "a" * 64))

    async def run() -> int:
        async def decisions() -> None:  # what else the event loop does meanwhile
            while in_flight[0] or not published.sent:
                turns[0] += 1
                await asyncio.sleep(0)

        other = asyncio.create_task(decisions())
        count = await heads.flush()
        await other
        return count

    assert asyncio.run(run()) == len(patients) == len(published.sent)
    assert most[0] == checkpoints.CHUNK and turns[0] >= 4  # never more than a chunk at once; the loop turned between


def test_a_head_another_replica_checkpointed_further_is_not_published_and_an_older_one_read_last_is_repaired() -> None:
    published = Published()
    heads = book(published)
    pseudonym = KEYS.pseudonym(PATIENT)
    newer = SIGNER.checkpoint(pseudonym, Head(9, "c" * 64), 1)
    heads._take_record(pseudonym.encode(), json.dumps({"jws": newer.token}).encode())
    heads.note(PATIENT, Head(7, "b" * 64))
    assert asyncio.run(heads.flush()) == 0 and published.sent == []
    older = SIGNER.checkpoint(pseudonym, Head(8, "d" * 64), 2)
    heads._take_record(pseudonym.encode(), json.dumps({"jws": older.token}).encode())  # compaction would keep it
    assert asyncio.run(heads.flush()) == 1
    assert published.sent == [(pseudonym.encode(), {"jws": newer.token})]  # the newer one again, the same bytes
    heads._take_record(pseudonym.encode(), b"not a checkpoint")  # ignored, with a warning
    assert heads.latest(PATIENT) == newer


def test_heads_not_published_while_kafka_is_down_are_kept_and_sent_later() -> None:
    published = Published()
    heads = book(published)
    published.failing = True
    heads.note(PATIENT, Head(3, "e" * 64))
    assert asyncio.run(heads.flush()) == 0 and heads.waiting == 1
    heads.note(PATIENT, Head(4, "f" * 64))
    published.failing = False
    assert asyncio.run(heads.flush()) == 1
    assert (found := heads.latest(PATIENT)) is not None and found.seq == 4


def test_sealing_checkpoints_the_chains_found_then_a_marker_and_not_before() -> None:
    published = Published()
    heads = book(published)
    assert not heads.sealed
    old = legacy(3)
    heads.seal({PATIENT: old[2].head})
    published.failing = True
    asyncio.run(heads.flush())
    assert not heads.sealed and published.sent == []
    published.failing = False
    asyncio.run(heads.flush())
    assert heads.sealed and [key.decode() for key, _ in published.sent] == [KEYS.pseudonym(PATIENT), KEYS.marker()]
    assert (found := heads.latest(PATIENT)) is not None and found.head == old[2].head
    again = book(published)  # a replica that reads the topic later: sealed, nothing more to seal
    for key, value in published.sent:
        again._take_record(key, json.dumps(value).encode())
    again.seal({})
    assert again.sealed and asyncio.run(again.flush()) == 0


# --- the doors: only access writes the checkpoints; access will not start without its keys ----------------------

def test_only_access_reads_and_writes_the_checkpoint_topic_which_is_compacted() -> None:
    from infra.kafka_acls import rights
    from schemas.topics import topic_configs

    table = rights()
    assert [p for p, r in table.items() if "access.audit-heads.v1" in r["write"]] == ["access"]
    assert [p for p, r in table.items() if "access.audit-heads.v1" in r["read"]] == ["access"]
    assert topic_configs()["access.audit-heads.v1"] == {"cleanup.policy": "compact"}  # its dead letters are events
    assert "access.audit-heads.v1.dlq" not in topic_configs()


def test_access_does_not_start_without_its_audit_keys(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from services.access.app import AccessSettings
    from services.kit.settings import load

    monkeypatch.setenv("DSP_LOG_PSEUDONYM_KEY", "a-pseudonym-key-for-this-test")
    for name in ("DSP_ACCESS_AUDIT_KEY", "DSP_ACCESS_AUDIT_SIGNING_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit):
        load(AccessSettings)
    said = capsys.readouterr().err
    assert "DSP_ACCESS_AUDIT_KEY" in said and "DSP_ACCESS_AUDIT_SIGNING_KEY" in said
    secret = "a-secret-that-must-never-be-echoed"
    monkeypatch.setenv("DSP_ACCESS_AUDIT_KEY", secret)
    monkeypatch.setenv("DSP_ACCESS_AUDIT_SIGNING_KEY", "not base64 at all")
    with pytest.raises(SystemExit):
        load(AccessSettings)
    said = capsys.readouterr().err
    assert "DSP_ACCESS_AUDIT_SIGNING_KEY" in said and secret not in said and "not base64" not in said


def test_make_run_gives_the_audit_keys_to_access_alone_generated_once(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from infra import mesh

    for name in ("DSP_ACCESS_AUDIT_KEY", "DSP_ACCESS_AUDIT_SIGNING_KEY"):
        monkeypatch.delenv(name, raising=False)
    infra = SimpleNamespace(state_dir=tmp_path / "state", env={},
                            ferret=SimpleNamespace(credentials=lambda name: {}),
                            kafka=SimpleNamespace(client_env=lambda name: {}, password=lambda name: "x" * 24))
    env = mesh.mesh_env(infra)
    assert not {"DSP_ACCESS_AUDIT_KEY", "DSP_ACCESS_AUDIT_SIGNING_KEY"} & set(env)
    for name in ("records", "activation", "notify", "gateway", "console"):
        assert "DSP_ACCESS_AUDIT_KEY" not in mesh.worker_env(infra, name, env)
    first = mesh.worker_env(infra, "access", env)
    assert len(first["DSP_ACCESS_AUDIT_KEY"]) == 64
    signing.AuditSigner(first["DSP_ACCESS_AUDIT_SIGNING_KEY"])  # a valid Ed25519 seed
    assert (tmp_path / "state" / "access-audit-signing.key").stat().st_mode & 0o777 == 0o600
    assert mesh.worker_env(infra, "access", env) == first  # the same keys at every start
