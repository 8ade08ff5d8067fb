"""The audit trail ("Traçabilité"): every decision and every document read, append-only, chained per patient and
authenticated with a key only access holds.

Each entry carries the hash of the previous one and its own `hash`: an HMAC-SHA256, under access's audit key, of
the previous hash and the entry's canonical body (`mac: "hmac-sha256"`, itself part of the body). Whoever lacks
the key — another service with a database password — can write an entry that looks like one from before the key
existed (a plain SHA-256, no `mac`), never a keyed one. Such older entries are vouched for only by a keyed
successor that links to them, or by access's checkpoint of the chain's head (`service/checkpoints.py`, on a Kafka
topic only access writes); `audit_check.verify` names the first entry nothing vouches for, or that was forged, removed
or reordered.

Pure: the key comes in as an argument. Storage appends with a unique (patient, seq) `_id`, so two replicas cannot
fork a chain; `resume` says where access continues a chain it reloads (after entries removed or written by others,
never refilling or vouching for them).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, fields, replace
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

GENESIS = "0" * 64
KEYED = "hmac-sha256"  # the `mac` of an entry access wrote with its key; "" for the plain SHA-256 of older ones


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


@dataclass(frozen=True)
class AuditKeys:
    """What access's audit secret (`DSP_ACCESS_AUDIT_KEY`) gives, one key per use (HKDF): `entries` authenticates
    each entry, `pseudonyms` names a patient on the checkpoint topic without their matricule."""

    entries: bytes
    pseudonyms: bytes

    @classmethod
    def derive(cls, secret: bytes) -> AuditKeys:
        return cls(_derive(secret, b"dsp-mesh audit entries v1"), _derive(secret, b"dsp-mesh audit pseudonyms v1"))

    def pseudonym(self, patient: str) -> str:
        """The patient's name on the checkpoint topic: an HMAC of the matricule, the same on every replica."""
        return hmac.new(self.pseudonyms, f"patient\x1f{patient}".encode(), hashlib.sha256).hexdigest()

    def marker(self) -> str:
        """The key of the record saying access has checkpointed the chains it found (no matricule makes it)."""
        return hmac.new(self.pseudonyms, b"sealed\x1fv1", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Head:
    """Where a chain stands: the last seq used and the hash the next entry links to (`prev_hash`)."""

    seq: int
    hash: str


@dataclass(frozen=True)
class AuditEntry:
    patient: str
    seq: int
    at: datetime
    actor_kind: str
    actor_id: str
    action: str
    document: str | None
    allowed: bool
    reason: str
    prev_hash: str
    hash: str = ""
    via: str = ""  # the service that asked (e.g. gateway); part of the body when set
    justification: str = ""  # break the glass: the professional's reason, for the patient; in the body when set
    mac: str = ""  # KEYED: `hash` is access's HMAC; "": a plain SHA-256 (entries from before the key)

    def body(self) -> bytes:
        data = {name: getattr(self, name) for name in _BODY}  # what asdict() gave, without its deep copies
        for optional in ("via", "justification", "mac"):
            if not data[optional]:
                data.pop(optional)  # entries written before the field existed keep their hash
        data["at"] = self.at.isoformat()
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    @property
    def head(self) -> Head:
        return Head(self.seq, self.hash)

    @property
    def keyed(self) -> bool:
        return self.mac == KEYED


_BODY = tuple(f.name for f in fields(AuditEntry) if f.name != "hash")


def digest(entry: AuditEntry, key: bytes) -> str | None:
    """The hash `entry` must carry: access's HMAC of the previous hash and the body (keyed), the plain SHA-256 of
    both (an entry from before the key), or None for a format this code does not know."""
    data = entry.prev_hash.encode() + entry.body()
    if entry.mac == KEYED:
        return hmac.new(key, data, hashlib.sha256).hexdigest()
    if entry.mac == "":
        return hashlib.sha256(data).hexdigest()
    return None


def authentic(entry: AuditEntry, key: bytes) -> bool:
    """Its hash is the one its content gives (compared in constant time); for a keyed entry: access wrote it."""
    expected = digest(entry, key)
    return expected is not None and hmac.compare_digest(expected, entry.hash)


def signed(entry: AuditEntry, key: bytes) -> bool:
    """Written by access with `key`: keyed, and its MAC matches its content."""
    return entry.keyed and authentic(entry, key)


def seal(entry: AuditEntry, key: bytes) -> AuditEntry:
    """`entry` as access writes it: keyed, with its MAC."""
    keyed = replace(entry, mac=KEYED)
    return replace(keyed, hash=digest(keyed, key) or "")


def append(head: Head | None, patient: str, key: bytes, at: datetime, actor_kind: str, actor_id: str, action: str,
           document: str | None, allowed: bool, reason: str, via: str = "", justification: str = "") -> AuditEntry:
    """The next entry of `patient`'s chain after `head` (None: the first), sealed with `key`."""
    seq, prev = (0, GENESIS) if head is None else (head.seq + 1, head.hash)
    entry = AuditEntry(patient, seq, at, actor_kind, actor_id, action, document, allowed, reason, prev, via=via,
                       justification=justification, mac=KEYED)
    # its hash set in place before anyone sees it: one entry built per append, not two (`replace`: ~5 µs each)
    object.__setattr__(entry, "hash", hmac.new(key, prev.encode() + entry.body(), hashlib.sha256).hexdigest())
    return entry


def resume(newest: AuditEntry | None, newest_signed: AuditEntry | None, checkpoint: Head | None,
           adopt: bool = False) -> Head | None:
    """Where access continues a chain it (re)loads: after the highest seq used — stored, or checkpointed (entries
    removed since are never written again, so their removal stays visible) — linked to the newest entry it can
    vouch for: its own newest signed entry or its checkpoint, whichever is later. Entries above that anchor (not
    signed by access) are linked past, never vouched for; with no anchor at all the next entry starts from GENESIS.
    `adopt`: take a chain of older entries as found (none signed, no checkpoint) — only when access first
    checkpoints the chains it found (`checkpoints.CheckpointBook.seal`). None: a new chain."""
    anchors = [h for h in (newest_signed.head if newest_signed else None, checkpoint) if h is not None]
    if adopt and newest is not None and not anchors:
        anchors = [newest.head]
    seqs = [h.seq for h in anchors] + ([newest.seq] if newest is not None else [])
    if not seqs:
        return None
    link = max(anchors, key=lambda h: h.seq).hash if anchors else GENESIS  # the signed one on a tie (listed first)
    return Head(max(seqs), link)


@dataclass(frozen=True)
class Checkpoint:
    """access's signed statement of a chain's head (`service/checkpoints.py`): seq, hash, when (epoch seconds), and the
    compact JWS that says so, kept to be checked again and handed over in an export."""

    seq: int
    hash: str
    at: int
    token: str

    @property
    def head(self) -> Head:
        return Head(self.seq, self.hash)
