"""Which laboratory sent a lab result, checked before anything else is done with it: never the `laboratory_id`
written in the message, always the signature (`services.kit.labsign`) against the keys the directory announced
(`laboratories`). Pure: no I/O.

`check` decides, for a record of `lab.results.v1` or `lab.results.fhir.v1`:
- no signature, a malformed one, one for another topic or record key, one that does not match the record's bytes,
  one made with a revoked key, one made with laboratory A's key on a result that names laboratory B: refused
  (`Rejected`, the reason for the dead letter);
- a key id nobody announced yet: `AwaitingKey` — the result waits, whole, for the announcement (as a result waits
  for its patient), so a laboratory announced a moment after its first result loses nothing;
- otherwise the `Provenance` kept with the version: the laboratory, its key id, the JWS itself and the SHA-256 of
  the bytes it signed (to check the JWS again later, take the bytes with that digest — the record's value, or the
  FHIR bundle — and the laboratory's announced public key).

A FHIR bundle is checked on arrival, mapped, and sent on through `lab.results.v1` as JSON *sealed* by records: a
JWS made with records' own key (`SEAL_KID`) over the JSON, whose header carries the laboratory's provenance (its
laboratory, key id, JWS over the bundle and the bundle's SHA-256). On `lab.results.v1` a seal is checked against
records' public key, and the laboratory's key again (one revoked meanwhile: refused). Nobody else holds that key, so
no laboratory can pass a result off as sealed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from schemas.fields import IDENTIFIER_PATTERN
from services.kit import labsign

from .documents import Rejected
from .laboratories import SigningKey

SEAL_KID = "dsp-mesh:records"  # `schemas.directory` keeps every `dsp-mesh:` key id out of the laboratories' reach
SEAL_CLAIMS = ("dsp-lab", "dsp-lab-kid", "dsp-lab-jws", "dsp-lab-sha256")
Keys = Callable[[str], SigningKey | None]


@dataclass(frozen=True)
class Provenance:
    laboratory_id: str
    kid: str
    jws: str  # the laboratory's own signature (over the bundle, for a result that came as FHIR)
    sha256: str  # of the bytes the laboratory signed

    def stored(self) -> dict[str, str]:
        return {"laboratory_id": self.laboratory_id, "kid": self.kid, "jws": self.jws, "sha256": self.sha256}


@dataclass(frozen=True)
class AwaitingKey:
    kid: str


def _refused(exc: labsign.BadSignature) -> Rejected:
    return Rejected(f"laboratory signature refused: {exc}")


def claim(signer: str, claimed: str) -> None:
    """A result of laboratory `signer` must name it (the record's key, the value's `laboratory_id`)."""
    if claimed != signer:
        shown = claimed if re.match(IDENTIFIER_PATTERN, claimed) else "another laboratory"
        raise Rejected(f"signed by {signer}, claims {shown}")


def _claimed(key: bytes | None) -> str | None:
    """The laboratory a record's key `<laboratory_id>:<report_id>` names (None: no such key; parsing refuses it)."""
    lab, sep, _ = labsign.key_text(key).partition(":")
    return lab if sep else None


def _bound(head: dict[str, Any], topic: str, key: bytes | None) -> None:
    """Refused at once, whatever the key: a signature made for another topic or record key never verifies."""
    if head[labsign.TOPIC_CLAIM] != topic:
        raise Rejected(f"laboratory signature refused: the signature is for another topic ({head['dsp-topic']})")
    if labsign.key_text(key) != head[labsign.KEY_CLAIM]:
        raise Rejected("laboratory signature refused: the signature is for another record key")


def check(signature: str | None, topic: str, key: bytes | None, value: bytes, keys: Keys,
          seal: Ed25519PublicKey | None = None) -> Provenance | AwaitingKey:
    """Who signed this record (see the module), or AwaitingKey; Rejected with the reason. `seal`: records' public
    key, on `lab.results.v1` only (where records sends on the FHIR results it mapped)."""
    if signature is None:
        raise Rejected(f"the result carries no laboratory signature (header {labsign.HEADER})")
    try:
        head = labsign.header(signature)
    except labsign.BadSignature as exc:
        raise _refused(exc) from None
    _bound(head, topic, key)
    if head["kid"] == SEAL_KID:
        return _sealed(signature, head, topic, key, value, keys, seal)
    found = keys(head["kid"])
    if found is None:
        return AwaitingKey(head["kid"])
    try:
        labsign.verify(signature, found.public_key, topic, key, value, head)
    except labsign.BadSignature as exc:
        raise _refused(exc) from None
    return _signed_by(found, key, signature, labsign.digest(value))


def _signed_by(found: SigningKey, key: bytes | None, jws: str, sha256: str) -> Provenance:
    if not found.active:
        raise Rejected(f"signed with key {found.kid} of {found.laboratory_id}, which is revoked")
    claimed = _claimed(key)
    if claimed is not None:
        claim(found.laboratory_id, claimed)
    return Provenance(found.laboratory_id, found.kid, jws, sha256)


def _sealed(signature: str, head: dict[str, Any], topic: str, key: bytes | None, value: bytes, keys: Keys,
            seal: Ed25519PublicKey | None) -> Provenance | AwaitingKey:
    if seal is None:
        raise Rejected("sealed by records, which seals nothing on this topic")
    try:
        labsign.verify(signature, seal, topic, key, value, head)
    except labsign.BadSignature as exc:
        raise Rejected(f"records' seal refused: {exc}") from None
    lab, kid, jws, sha256 = (head.get(name) for name in SEAL_CLAIMS)
    if not (isinstance(lab, str) and isinstance(kid, str) and isinstance(jws, str) and isinstance(sha256, str)):
        raise Rejected("records' seal names no laboratory provenance")
    found = keys(kid)
    if found is None:  # checked when the bundle came; a directory that forgot it since: wait for it again
        return AwaitingKey(kid)
    if found.laboratory_id != lab:
        raise Rejected(f"records' seal names key {kid} for {lab}; it is {found.laboratory_id}'s")
    return _signed_by(found, key, jws, sha256)


def seal(private: Ed25519PrivateKey, provenance: Provenance, topic: str, key: bytes, value: bytes) -> str:
    """Records' seal of the JSON it made from a FHIR bundle `provenance` was checked on."""
    claims = dict(zip(SEAL_CLAIMS, (provenance.laboratory_id, provenance.kid, provenance.jws, provenance.sha256),
                      strict=True))
    return labsign.sign(private, SEAL_KID, topic, key, value, claims)
