"""Each laboratory is its own identity (issue 24): a lab result is signed by its laboratory (`kit.labsign`, a JWS with
a detached payload), checked by records before anything else (`records.provenance`) against the keys the directory
announced (`records.laboratories`), and its verified provenance is kept with each version. Without Kafka: each
refusal's reason, the decision to wait for a key, the announcement rules, the ingest service on its in-memory store."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from schemas.directory import LaboratoryListedV1
from services.kit import labsign
from services.records.domain import documents as domain
from services.records.domain import provenance
from services.records.domain.documents import Rejected
from services.records.domain.laboratories import Laboratories, merge
from services.records.domain.provenance import SEAL_KID, AwaitingKey, Provenance
from services.records.service.directory import Directory
from services.records.service.ingest import Ingestor
from tests.fakes.records import PATIENT, MemoryStore
from tests.support import encode, fhir_bundle, lab_result, laboratory_key
from tests.unit.test_ingest_batches import DeadLetterRecorder, signed

TOPIC = "lab.results.v1"
A, B = laboratory_key("LAB-A"), laboratory_key("LAB-B")
VALUE = encode(lab_result("LAB-A", report="R1", message_id="m-1"))
KEY = b"LAB-A:R1"


def listing(key: Any, status: str = "active", name: str | None = None, **extra: Any) -> LaboratoryListedV1:
    return LaboratoryListedV1.model_validate({**key.listing(name or f"Laboratoire {key.laboratory_id}",
                                                            status=status), **extra})


def directory(*announced: LaboratoryListedV1) -> Laboratories:
    labs = Laboratories()
    for item in announced:
        labs.apply(item)
    return labs


KNOWN = directory(listing(A), listing(B))


@contextmanager
def refused(reason: str, whole: bool = True) -> Iterator[None]:
    """The block raises Rejected with exactly `reason` (or a reason starting with it)."""
    with pytest.raises(Rejected) as info:
        yield
    assert str(info.value) == reason if whole else str(info.value).startswith(reason), str(info.value)


def check(signature: str | None, key: bytes = KEY, value: bytes = VALUE, labs: Laboratories = KNOWN,
          topic: str = TOPIC, seal: Any = None) -> Provenance | AwaitingKey:
    return provenance.check(signature, topic, key, value, labs.key, seal)


# --- the kit: sign, verify ---------------------------------------------------------------------------------------

def test_a_signature_is_a_detached_eddsa_jws_over_the_exact_bytes_bound_to_topic_and_key() -> None:
    signature = A.sign(TOPIC, KEY, VALUE)
    head_b64, payload, _ = signature.split(".")
    assert payload == ""  # detached: the record's value is the payload
    head = json.loads(base64.urlsafe_b64decode(head_b64 + "=="))
    assert head == {"alg": "EdDSA", "b64": False, "crit": ["b64"], "kid": A.kid, "dsp-topic": TOPIC,
                    "dsp-key": "LAB-A:R1"}
    assert labsign.verify(signature, labsign.public_key(A.public), TOPIC, KEY, VALUE)["kid"] == A.kid
    decoded = jwt.api_jws.decode_complete(signature, labsign.public_key(A.public), algorithms=["EdDSA"],
                                          detached_payload=VALUE)  # any RFC 7797 verifier agrees
    assert decoded["payload"] == VALUE
    assert A.sign(TOPIC, KEY, VALUE) == signature  # Ed25519 is deterministic: a redelivery is byte-identical
    assert A.kid.startswith("LAB-A.") and laboratory_key("LAB-A", 1).kid != A.kid


@pytest.mark.parametrize(("topic", "key", "value", "reason"), [
    (TOPIC, KEY, VALUE.replace(b"13.9", b"16.1"), "the signature does not match the record"),
    (TOPIC, b"LAB-A:R2", VALUE, "the signature is for another record key"),
    ("lab.results.fhir.v1", KEY, VALUE, "the signature is for another topic (lab.results.v1)"),
])
def test_a_record_changed_moved_or_resent_elsewhere_no_longer_verifies(topic: str, key: bytes, value: bytes,
                                                                       reason: str) -> None:
    with pytest.raises(labsign.BadSignature, match=reason.replace("(", r"\(").replace(")", r"\)")):
        labsign.verify(A.sign(TOPIC, KEY, VALUE), labsign.public_key(A.public), topic, key, value)


def test_keys_are_base64url_of_32_raw_bytes() -> None:
    seed, public = labsign.new_key()
    assert len(seed) == len(public) == 43 and "=" not in public
    assert labsign.public_text(labsign.private_key(seed)) == public
    for bad in ("not base64!", base64.urlsafe_b64encode(b"x" * 31).decode().rstrip("="), public + "A"):
        with pytest.raises(ValueError, match="public key"):
            labsign.public_key(bad)


# --- records' decision: each refusal, and waiting for a key ------------------------------------------------------

def test_a_verified_result_gives_its_provenance() -> None:
    signature = A.sign(TOPIC, KEY, VALUE)
    found = check(signature)
    assert found == Provenance("LAB-A", A.kid, signature, hashlib.sha256(VALUE).hexdigest())
    assert found.stored() == {"laboratory_id": "LAB-A", "kid": A.kid, "jws": signature,
                              "sha256": hashlib.sha256(VALUE).hexdigest()}


def _malformed() -> list[tuple[str | None, str]]:
    attached = jwt.api_jws.encode(VALUE, A.private, algorithm="EdDSA", headers={
        "kid": A.kid, "dsp-topic": TOPIC, "dsp-key": "LAB-A:R1"})  # the payload inside, base64
    hmac = jwt.api_jws.encode(VALUE, "k" * 32, algorithm="HS256", is_payload_detached=True,
                              headers={"kid": A.kid, "dsp-topic": TOPIC, "dsp-key": "LAB-A:R1"})
    no_kid = jwt.api_jws.encode(VALUE, A.private, algorithm="EdDSA", is_payload_detached=True,
                                headers={"dsp-topic": TOPIC, "dsp-key": "LAB-A:R1"})
    no_claims = jwt.api_jws.encode(VALUE, A.private, algorithm="EdDSA", is_payload_detached=True,
                                   headers={"kid": A.kid})
    return [
        (None, "the result carries no laboratory signature (header dsp-lab-signature)"),
        ("", "laboratory signature refused: the signature is not a compact JWS"),
        ("not.a.jws", "laboratory signature refused: the signature is not a compact JWS"),
        (attached, "laboratory signature refused: the signature's payload is not detached (RFC 7797, b64 false)"),
        (hmac, "laboratory signature refused: the signature's algorithm is not EdDSA"),
        (no_kid, "laboratory signature refused: the signature names no key (kid)"),
        (no_claims, "laboratory signature refused: the signature does not name the record's topic and key "
                    "(dsp-topic, dsp-key)"),
        ("x" * 20_000, "laboratory signature refused: the signature is too long"),
    ]


@pytest.mark.parametrize(("signature", "reason"), _malformed())
def test_no_or_a_malformed_signature_is_refused_with_a_clear_reason(signature: str | None, reason: str) -> None:
    with pytest.raises(Rejected) as info:
        check(signature)
    assert str(info.value) == reason


def test_laboratory_a_s_key_on_laboratory_b_s_result_is_refused() -> None:
    """The issue's attack: one login published and corrected as another laboratory."""
    value = encode(lab_result("LAB-B", report="R1", message_id="m-1"))
    with refused("signed by LAB-A, claims LAB-B"):
        check(A.sign(TOPIC, b"LAB-B:R1", value), key=b"LAB-B:R1", value=value)
    with refused("signed by LAB-A, claims another laboratory"):
        check(A.sign(TOPIC, b"LAB B:R1", value), key=b"LAB B:R1", value=value)  # never echoes what is no id
    provenance.claim("LAB-A", "LAB-A")
    with refused("signed by LAB-A, claims LAB-B"):  # the value's laboratory_id, once parsed
        provenance.claim("LAB-A", "LAB-B")


def test_a_forged_signature_under_another_laboratory_s_key_id_does_not_verify() -> None:
    forged = labsign.sign(B.private, A.kid, TOPIC, KEY, VALUE)  # B's private key, A's key id
    with refused(f"laboratory signature refused: the signature does not match the record (key {A.kid})"):
        check(forged)


def test_a_revoked_key_is_refused() -> None:
    revoked = directory(listing(A), listing(A, "revoked", message_id="revoke-1"))
    with refused(f"signed with key {A.kid} of LAB-A, which is revoked"):
        check(A.sign(TOPIC, KEY, VALUE), labs=revoked)


def test_a_key_nobody_announced_yet_waits_for_its_announcement() -> None:
    new = laboratory_key("LAB-NEW")
    value = encode(lab_result("LAB-NEW", report="R1"))
    assert check(new.sign(TOPIC, b"LAB-NEW:R1", value), key=b"LAB-NEW:R1", value=value) == AwaitingKey(new.kid)
    with pytest.raises(Rejected, match="for another record key"):  # unverifiable whatever comes: refused at once
        check(new.sign(TOPIC, b"LAB-NEW:R2", value), key=b"LAB-NEW:R1", value=value)
    later = directory(listing(new))
    assert isinstance(check(new.sign(TOPIC, b"LAB-NEW:R1", value), key=b"LAB-NEW:R1", value=value, labs=later),
                      Provenance)


def test_records_seal_carries_the_laboratory_s_provenance_and_nobody_else_can_seal() -> None:
    records_key = Ed25519PrivateKey.generate()
    bundle = json.dumps(fhir_bundle("LAB-A", "F-1", "fhir-1")).encode()
    from_lab = check(A.sign("lab.results.fhir.v1", b"LAB-A:F-1", bundle), key=b"LAB-A:F-1", value=bundle,
                     topic="lab.results.fhir.v1")
    assert isinstance(from_lab, Provenance)
    sealed = provenance.seal(records_key, from_lab, TOPIC, KEY, VALUE)
    assert labsign.header(sealed)["kid"] == SEAL_KID
    assert check(sealed, seal=records_key.public_key()) == from_lab  # the laboratory's, not records'
    with refused("records' seal refused: the signature does not match the record", whole=False):
        check(provenance.seal(Ed25519PrivateKey.generate(), from_lab, TOPIC, KEY, VALUE),
              seal=records_key.public_key())
    with refused("sealed by records, which seals nothing on this topic"):
        check(sealed)  # on the FHIR topic, records checks no seal
    revoked = directory(listing(A), listing(A, "revoked", message_id="revoke-1"))
    with pytest.raises(Rejected, match="which is revoked"):
        check(sealed, seal=records_key.public_key(), labs=revoked)
    with pytest.raises(ValidationError, match="the mesh's own"):  # no laboratory can announce records' key id
        LaboratoryListedV1.model_validate({**A.listing("x"), "keys": [
            {"kid": SEAL_KID, "public_key": labsign.public_text(records_key), "status": "active"}]})


# --- what an announcement may change -----------------------------------------------------------------------------

def test_an_announcement_adds_keys_renames_and_revokes_but_never_rewrites_a_key() -> None:
    first = merge(None, listing(A, name="Laboratoires Réunis"), lambda _: None)
    assert (first.display_name, [(k.kid, k.status) for k in first.keys]) == ("Laboratoires Réunis", [(A.kid, "active")])
    second_key = laboratory_key("LAB-A", 1)
    both = merge(first, LaboratoryListedV1.model_validate({**second_key.listing("Ketterthill")}), lambda _: None)
    assert both.display_name == "Ketterthill" and [k.kid for k in both.keys] == [A.kid, second_key.kid]  # A kept
    assert merge(both, listing(A, "revoked", name="Ketterthill"), lambda _: None).keys[0].status == "revoked"
    assert merge(first, listing(A, name="Laboratoires Réunis"), lambda _: None) == first  # the same again

    rewritten = {**A.listing("x"), "keys": [{"kid": A.kid, "public_key": B.public, "status": "active"}]}
    with refused(f"key {A.kid} was announced with another public key; a new key needs a new", whole=False):
        merge(first, LaboratoryListedV1.model_validate(rewritten), lambda _: None)
    revoked = merge(first, listing(A, "revoked"), lambda _: None)
    with refused(f"key {A.kid} is revoked; a revoked key stays revoked"):
        merge(revoked, listing(A), lambda _: None)
    stolen = {**A.listing("x"), "laboratory_id": "LAB-B"}  # B announces A's key id
    with refused(f"key {A.kid} already belongs to laboratory LAB-A"):
        KNOWN.apply(LaboratoryListedV1.model_validate(stolen))
    assert KNOWN.owner(A.kid) == "LAB-A" and KNOWN.name("LAB-A") == "Laboratoire LAB-A"


async def test_memory_ahead_of_the_store_never_goes_back_to_an_active_key() -> None:
    """A replica reads every announcement without a group: it can know of a revocation before the store does, and
    reloading the store (a key id it did not know) must not make the revoked key active again."""
    store = MemoryStore()
    known = Laboratories()
    listings = Directory(store, known)
    await listings.listed(listing(A))  # stored and known: active
    known.apply(listing(A, "revoked", message_id="revoke-1"))  # read here first, not stored yet
    await listings.load()  # the store still says active
    assert known.key(A.kid) is not None and not known.key(A.kid).active  # type: ignore[union-attr]
    lab = await listings.listed(listing(A, "revoked", message_id="revoke-1"))  # the group's handler catches up
    assert [k.status for k in lab.keys] == ["revoked"] and store.laboratories["LAB-A"]["keys"][0]["status"] == "revoked"


# --- the ingest service: refuse, wait, release, keep the provenance ----------------------------------------------

class Sent:
    def __init__(self) -> None:
        self.calls: list[tuple[bytes, dict[str, Any]]] = []

    async def __call__(self, body: bytes, **kwargs: Any) -> Any:
        self.calls.append((body, kwargs))
        done: Any = __import__("asyncio").get_running_loop().create_future()
        done.set_result(None)
        return done


def service(store: MemoryStore, *announced: LaboratoryListedV1) -> tuple[Ingestor, DeadLetterRecorder, Sent, Sent]:
    dead, events, resent = DeadLetterRecorder(), Sent(), Sent()
    ingest = Ingestor(store, dead, events, resent, lambda: datetime(2026, 11, 22, tzinfo=UTC),  # type: ignore[arg-type]
                      lambda m: "ref", directory=Directory(store, directory(*announced)),  # type: ignore[arg-type]
                      sealer=Ed25519PrivateKey.generate(), send_fhir=resent)
    return ingest, dead, events, resent


def result_of(key: Any, report: str = "R1", message_id: str = "m-1", **fields: Any) -> tuple[bytes, bytes]:
    lab = key.laboratory_id
    return f"{lab}:{report}".encode(), encode(lab_result(lab, report=report, message_id=message_id, **fields))


async def test_each_refusal_is_a_dead_letter_with_its_reason_and_nothing_is_stored() -> None:
    store = MemoryStore()
    ingest, dead, _, _ = service(store, listing(A), listing(B))
    b_key, b_value = result_of(B)
    await ingest.handle([
        signed(*result_of(A), 1, signer=False),  # not signed
        signed(b_key, b_value, 2, signer=A),  # LAB-A's key on LAB-B's result
        signed(b"LAB-A:R9", encode(lab_result("LAB-B", report="R9")), 3, signer=A),  # key A, value B
    ])
    assert [(key, why) for key, _, why in dead.sent] == [
        (b"LAB-A:R1", "the result carries no laboratory signature (header dsp-lab-signature)"),
        (b"LAB-B:R1", "signed by LAB-A, claims LAB-B"),
        (b"LAB-A:R9", "message key does not match the value's laboratory_id:report_id")]
    assert store.docs == {} and store.awaiting_key == {}


async def test_a_result_waits_for_its_laboratory_s_key_and_is_released_with_its_signature() -> None:
    store = MemoryStore()
    ingest, dead, events, resent = service(store)  # LAB-A not announced yet
    key, value = result_of(A)
    first = signed(key, value, 1, signer=A)
    await ingest.handle([first])
    await ingest.handle([first])  # redelivered: waits once
    assert dead.sent == [] and store.docs == {} and events.calls == []
    [(entry_id, entry)] = store.awaiting_key.items()
    assert entry_id.startswith(f"{A.kid}|") and (entry["key"], entry["value"], entry["topic"]) == (key, value, TOPIC)

    lab = await ingest.directory.listed(listing(A))  # what the handler does with the announcement
    assert [await ingest.release_key(k.kid) for k in lab.keys] == [1]
    [(body, kwargs)] = resent.calls
    assert (body, kwargs["key"]) == (value, key)
    assert kwargs["headers"] == {labsign.HEADER: first.headers[0][1].decode()}  # verifies again when it comes back
    assert store.awaiting_key == {} and store.laboratories["LAB-A"]["display_name"] == "Laboratoire LAB-A"

    await ingest.handle([signed(key, body, 7, signer=A)])  # back through lab.results.v1
    doc = store.docs[domain.document_id("LAB-A", "R1")]
    assert doc["versions"][0]["provenance"] == {"laboratory_id": "LAB-A", "kid": A.kid,
                                                "jws": first.headers[0][1].decode(),
                                                "sha256": hashlib.sha256(value).hexdigest()}


async def test_a_key_stored_by_another_replica_meanwhile_releases_the_result_at_once() -> None:
    store = MemoryStore()
    await Directory(store, Laboratories()).listed(listing(A))  # another replica handled the announcement
    ingest, _, _, resent = service(store)  # this one has not read it yet
    await ingest.handle([signed(*result_of(A), 1, signer=A)])
    assert len(resent.calls) == 1 and store.awaiting_key == {}


async def test_a_correction_signed_by_another_laboratory_never_changes_the_document() -> None:
    store = MemoryStore()
    ingest, dead, _, _ = service(store, listing(A), listing(B))
    await ingest.handle([signed(*result_of(A, patient_matricule=PATIENT), 1, signer=A)])
    before = json.dumps(store.docs, default=str, sort_keys=True)
    key, value = result_of(A, message_id="m-2", status="corrected", reported_at="2026-11-20T16:00:00+01:00")
    await ingest.handle([signed(key, value, 2, signer=B)])  # B's key, claiming A's report
    b_key, b_value = result_of(B, message_id="m-2", status="corrected", reported_at="2026-11-20T16:00:00+01:00")
    await ingest.handle([signed(b_key, b_value, 3, signer=B)])  # B's own result with A's report id
    assert [why for _, _, why in dead.sent] == ["signed by LAB-B, claims LAB-A"]
    a_doc = store.docs[domain.document_id("LAB-A", "R1")]
    assert json.dumps({domain.document_id("LAB-A", "R1"): a_doc}, default=str, sort_keys=True) == before
    assert store.docs[domain.document_id("LAB-B", "R1")]["versions"][0]["provenance"]["laboratory_id"] == "LAB-B"


async def test_a_fhir_bundle_is_checked_mapped_and_sent_on_sealed_then_stored_with_the_laboratory_s_provenance(
) -> None:
    store = MemoryStore()
    ingest, dead, _, resent = service(store, listing(A))
    bundle = json.dumps(fhir_bundle("LAB-A", "F-1", "fhir-1")).encode()
    fhir_record = signed(b"LAB-A:F-1", bundle, 1, signer=A, topic="lab.results.fhir.v1")
    await ingest.forward_fhir(fhir_record)
    [(value, kwargs)] = resent.calls
    assert kwargs["key"] == b"LAB-A:F-1" and kwargs["headers"]["dsp-source-topic"] == "lab.results.fhir.v1"
    seal = kwargs["headers"][labsign.HEADER]
    assert labsign.header(seal)["kid"] == SEAL_KID
    await ingest.handle([signed(b"LAB-A:F-1", value, 2, signer=Given(seal))])
    assert dead.sent == []
    stored = store.docs[domain.document_id("LAB-A", "F-1")]["versions"][0]["provenance"]
    assert stored == {"laboratory_id": "LAB-A", "kid": A.kid, "jws": fhir_record.headers[0][1].decode(),
                      "sha256": hashlib.sha256(bundle).hexdigest()}

    other = json.dumps(fhir_bundle("LAB-B", "F-2", "fhir-2")).encode()
    with refused("signed by LAB-A, claims LAB-B"):  # A's key on a bundle naming B
        await ingest.forward_fhir(signed(b"LAB-A:F-2", other, 3, signer=A, topic="lab.results.fhir.v1"))
    forged = labsign.sign(A.private, SEAL_KID, TOPIC, b"LAB-A:F-1", value)  # passed off as records' own
    await ingest.handle([signed(b"LAB-A:F-1", value, 4, signer=Given(forged))])
    assert [why for _, _, why in dead.sent] == [
        "records' seal refused: the signature does not match the record (key dsp-mesh:records)"]


class Given:
    """A "signer" that hands back a signature made elsewhere (records' seal, a forged one)."""

    def __init__(self, signature: str) -> None:
        self.signature = signature

    def headers(self, topic: str, key: bytes, value: bytes) -> list[tuple[str, bytes]]:
        return [(labsign.HEADER, self.signature.encode())]


async def test_a_report_and_its_correction_that_waited_for_the_key_go_back_in_their_arrival_order() -> None:
    # the store lists waiting results by `_id` (a digest): without the offsets kept, a correction could be sent back
    # before its original and the two folded into one version, the original's event never sent (a CI run saw it)
    for seed in range(8):  # message ids whose digests sort either way
        store = MemoryStore()
        ingest, _, _, resent = service(store)  # LAB-A not announced yet
        original = result_of(A, message_id=f"v1-{seed}")
        correction = result_of(A, message_id=f"v2-{seed}", status="corrected")
        await ingest.handle([signed(*original, 10, signer=A), signed(*correction, 11, signer=A)])
        lab = await ingest.directory.listed(listing(A))
        assert [await ingest.release_key(k.kid) for k in lab.keys] == [2]
        assert [body for body, _ in resent.calls] == [original[1], correction[1]], seed
