"""The audit trail ("Traçabilité"): every decision and every document read, append-only, hash-chained per patient.

Each entry carries the hash of the previous one; changing, removing or reordering any entry breaks every
hash after it, and `verify` names the first broken link. The newest entry has no successor to vouch for
it: its hash (the chain's head) must also be kept where the audit store's writers cannot rewrite it
(e.g. published as an event). Pure: storage appends with a unique (patient, seq) index, so two replicas
cannot fork a chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Protocol

GENESIS = "0" * 64


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
    via: str = ""  # the service that asked (e.g. gateway); part of the hash when set
    justification: str = ""  # break the glass: the professional's reason, for the patient; hashed when set

    def body(self) -> bytes:
        data = {name: getattr(self, name) for name in _BODY}  # what asdict() gave, without its deep copies
        for optional in ("via", "justification"):
            if not data[optional]:
                data.pop(optional)  # entries written before the field existed keep their hash
        data["at"] = self.at.isoformat()
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def sealed(self) -> AuditEntry:
        return replace(self, hash=hashlib.sha256(self.prev_hash.encode() + self.body()).hexdigest())


_BODY = tuple(f.name for f in fields(AuditEntry) if f.name != "hash")


def append(last: AuditEntry | None, patient: str, at: datetime, actor_kind: str, actor_id: str, action: str,
           document: str | None, allowed: bool, reason: str, via: str = "", justification: str = "") -> AuditEntry:
    """The next entry of `patient`'s chain after `last` (None: the first)."""
    if last is not None and last.patient != patient:
        raise ValueError("an audit chain belongs to one patient")
    return AuditEntry(patient, 0 if last is None else last.seq + 1, at, actor_kind, actor_id, action, document,
                      allowed, reason, GENESIS if last is None else last.hash, via=via,
                      justification=justification).sealed()


def verify(entries: Sequence[AuditEntry]) -> int | None:
    """Index of the first entry that breaks the chain (altered, missing, reordered), or None if intact."""
    prev = GENESIS
    for i, entry in enumerate(entries):
        if entry.seq != i or entry.prev_hash != prev or entry.sealed().hash != entry.hash:
            return i
        prev = entry.hash
    return None


class AuditTrail(Protocol):
    """Where a patient's chain is kept (`store.audit_log.AuditLog` on MongoDB, `tests.fakes.access.FakeAuditTrail` in
    memory): appended once per `ref`, read newest first by page, verified whole."""

    async def load_heads(self) -> int: ...
    async def append(self, patient: str, at: datetime, actor_kind: str, actor_id: str, action: str,
                     document: str | None, allowed: bool, reason: str, ref: str | None = None,
                     via: str = "", justification: str = "") -> AuditEntry: ...
    async def page(self, patient: str, before_seq: int | None, limit: int) -> list[AuditEntry]: ...
    async def verify(self, patient: str) -> tuple[int, int | None, AuditEntry | None]: ...
