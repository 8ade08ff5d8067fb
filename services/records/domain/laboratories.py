"""The laboratories records knows, from the directory (`directory.laboratories.v1`): the name the portal shows, and
the keys each one signs its results with. Pure: no I/O (the store keeps them in `laboratories`, `_id` = laboratory
id; `directory.py` loads and saves; every replica holds them all in memory, here).

What an announcement may change (`merge`), so that a key id always means one public key of one laboratory and a
signature checked today checks the same way later:
- a new key id joins the laboratory, active or revoked as announced;
- a known key keeps its public key (another one under the same id is refused: a new key needs a new id) and may be
  revoked; a revoked key stays revoked (active again is refused);
- a key left out of a later announcement stays as it was (revoke it to stop it);
- a key id another laboratory announced first stays that laboratory's (refused);
- the name is the latest one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from schemas.directory import LaboratoryListedV1
from services.kit import labsign

from .documents import Rejected


@dataclass(frozen=True)
class Key:
    kid: str
    laboratory_id: str
    public_key: str  # base64url of the raw 32 bytes
    status: str  # active | revoked

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class Laboratory:
    laboratory_id: str
    display_name: str
    keys: tuple[Key, ...]
    message_id: str  # the announcement it was last changed by

    def stored(self) -> dict[str, Any]:
        return {"_id": self.laboratory_id, "display_name": self.display_name, "message_id": self.message_id,
                "keys": [{"kid": k.kid, "public_key": k.public_key, "status": k.status} for k in self.keys]}


def loaded(doc: dict[str, Any]) -> Laboratory:
    lab = str(doc["_id"])
    return Laboratory(lab, str(doc["display_name"]), tuple(Key(str(k["kid"]), lab, str(k["public_key"]),
                                                               str(k["status"])) for k in doc.get("keys") or []),
                      str(doc.get("message_id") or ""))


def merge(current: Laboratory | None, listed: LaboratoryListedV1, owner: Callable[[str], str | None]) -> Laboratory:
    """The laboratory after `listed` (see the module's rules); Rejected with the reason if it asks what may not be.
    `owner`: the laboratory a key id already belongs to, if any."""
    lab = listed.laboratory_id
    keys = {k.kid: k for k in (current.keys if current else ())}
    for item in listed.keys:
        taken = owner(item.kid)
        if taken is not None and taken != lab:
            raise Rejected(f"key {item.kid} already belongs to laboratory {taken}")
        known = keys.get(item.kid)
        if known is None:
            keys[item.kid] = Key(item.kid, lab, item.public_key, item.status)
            continue
        if known.public_key != item.public_key:
            raise Rejected(f"key {item.kid} was announced with another public key; a new key needs a new key id")
        if not known.active and item.status == "active":
            raise Rejected(f"key {item.kid} is revoked; a revoked key stays revoked")
        keys[item.kid] = replace(known, status=item.status)
    return Laboratory(lab, listed.display_name, tuple(keys.values()), listed.message_id)


@dataclass(frozen=True)
class SigningKey:
    """What a verifier needs of a key id: whose it is, its public key, whether it may still sign."""

    kid: str
    laboratory_id: str
    public_key: Ed25519PublicKey
    active: bool


class Laboratories:
    """Every laboratory records knows, in memory: key ids for verification, names for the read API."""

    def __init__(self, known: Iterable[Laboratory] = ()) -> None:
        self.by_id: dict[str, Laboratory] = {}
        self.by_kid: dict[str, SigningKey] = {}
        for lab in known:
            self.put(lab)

    def put(self, lab: Laboratory) -> None:
        """Keep `lab` as it now is, never going back: a key revoked here stays revoked (memory can be ahead of the
        store it is loaded from again), a key known here stays known; a key id another laboratory holds here is left
        to it."""
        held = self.by_id.get(lab.laboratory_id)
        if held is not None:
            keys = {k.kid: k for k in held.keys}
            for k in lab.keys:
                known = keys.get(k.kid)
                keys[k.kid] = k if known is None or known.active else known
            lab = replace(lab, keys=tuple(keys.values()))
        self.by_id[lab.laboratory_id] = lab
        for k in lab.keys:
            owner = self.by_kid.get(k.kid)
            if owner is None or owner.laboratory_id == lab.laboratory_id:
                self.by_kid[k.kid] = SigningKey(k.kid, lab.laboratory_id, labsign.public_key(k.public_key), k.active)

    def apply(self, listed: LaboratoryListedV1) -> Laboratory:
        """Merge an announcement into memory (every replica reads them all); Rejected as `merge`."""
        lab = merge(self.by_id.get(listed.laboratory_id), listed, self.owner)
        self.put(lab)
        return lab

    def owner(self, kid: str) -> str | None:
        found = self.by_kid.get(kid)
        return found.laboratory_id if found else None

    def key(self, kid: str) -> SigningKey | None:
        return self.by_kid.get(kid)

    def name(self, laboratory_id: str) -> str | None:
        found = self.by_id.get(laboratory_id)
        return found.display_name if found else None
