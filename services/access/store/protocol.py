"""The shape of access's stored data and the seam below the service layer: `PatientDoc` (one document per patient:
the whole access state, a version, the presence password's hash, consents and the recent commands' outcomes), its
encoding (`encode_access`, `decode_access`, `decode_doc`, shared by the MongoDB store and the in-memory fake) and
`Store`, the Protocol every store of access's data implements, with `AuditTrail` (the audit chains) and `Checkpoints`
(their heads checkpointed outside the database). No driver here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from services.kit.commands import recent_outcome

from ..domain.audit import AuditEntry, Checkpoint, Head
from ..domain.audit_check import Verdict
from ..domain.decisions import Grant, PatientAccess
from ..domain.directory import ProfessionalCard
from ..domain.emergency import Use
from ..domain.grants import GrantKind

RECENT_COMMANDS = 50  # outcomes kept per patient to answer a redelivered command identically


@dataclass
class PatientDoc:
    patient: str
    version: int = 0
    access: PatientAccess = field(default_factory=PatientAccess)
    presence_hash: str | None = None
    consents: list[dict[str, Any]] = field(default_factory=list)
    recent: list[dict[str, Any]] = field(default_factory=list)  # {"command_id", "outcome", "effects"}

    def applied(self, command_id: str) -> dict[str, Any] | None:
        return recent_outcome(self.recent, command_id)


def encode_access(a: PatientAccess) -> dict[str, Any]:
    return {
        "grants": [{"kind": g.kind.value, "professional_id": g.professional_id, "granted_at": g.granted_at,
                    "ends_at": g.ends_at} for g in a.grants.values()],
        "blocked_professionals": sorted(a.blocked_professionals),
        "blocked_documents": sorted(a.blocked_documents),
        "assistants": [{"matricule": m, "ends_at": end, "since": a.assistant_since.get(m)}
                       for m, end in a.assistants.items()],
        "referring_gp": a.referring_gp,
        "emergency_refused": a.emergency_refused,
    }


def decode_access(d: dict[str, Any]) -> PatientAccess:
    grants = [Grant(GrantKind(g["kind"]), g["professional_id"], g["granted_at"], g["ends_at"])
              for g in d.get("grants", [])]
    return PatientAccess(
        grants={(g.kind, g.professional_id): g for g in grants},
        blocked_professionals=set(d.get("blocked_professionals", [])),
        blocked_documents=set(d.get("blocked_documents", [])),
        assistants={a["matricule"]: a["ends_at"] for a in d.get("assistants", [])},
        assistant_since={a["matricule"]: a["since"] for a in d.get("assistants", []) if a.get("since")},
        referring_gp=d.get("referring_gp"),
        emergency_refused=bool(d.get("emergency_refused", False)),
    )


def decode_doc(raw: dict[str, Any]) -> PatientDoc:
    return PatientDoc(raw["_id"], raw["version"], decode_access(raw["access"]), raw.get("presence_hash"),
                      raw.get("consents", []), raw.get("recent", []))


class Store(Protocol):
    """What access's service, view, sweeper and APIs need from its data (the seam below the service layer:
    `AccessStore` on MongoDB, `tests.fakes.access.FakeAccessStore` in memory)."""

    async def ensure_indexes(self) -> None: ...
    async def load(self, patient: str) -> PatientDoc: ...
    async def save(self, doc: PatientDoc, now: datetime) -> bool: ...
    def versions(self, since: datetime | None = None) -> AsyncIterator[tuple[str, int, PatientAccess, datetime]]: ...
    async def version(self, patient: str) -> tuple[int, PatientAccess] | None: ...
    async def put_professional(self, professional_id: str, fields: Mapping[str, Any], at: datetime) -> bool: ...
    async def put_person(self, matricule: str, fields: Mapping[str, Any], at: datetime) -> bool: ...
    async def claim_first_access(self, marker: str, at: datetime) -> bool: ...
    async def release_first_access(self, marker: str) -> None: ...
    async def due_ends(self, now: datetime, limit: int) -> list[dict[str, Any]]: ...
    async def prune_changes(self, now: datetime) -> int:
        """Forget the change markers no catch-up reads any more; how many."""
    async def end_requested(self, end_id: str, at: datetime) -> None: ...
    async def person(self, matricule: str) -> dict[str, Any] | None: ...
    async def persons_by_id(self, matricules: set[str]) -> dict[str, dict[str, Any]]: ...
    def professional_cards(self) -> AsyncIterator[ProfessionalCard]: ...
    async def professional_card(self, professional_id: str) -> ProfessionalCard | None: ...
    async def schedule_end(self, patient: str, kind: str, subject: str, ends_at: datetime) -> None: ...
    async def presence_failures_since(self, key: str, since: datetime) -> int:
        """Wrong presence-password guesses counted under `key` (`presence.professional_key`, `patient_key`)
        after `since`."""
    async def presence_failed(self, keys: list[str], at: datetime, ref: str) -> None:
        """One wrong guess (`ref`: the redemption's command id) counted under each of `keys`; idempotent."""
    async def glass_broken(self, professional: str, patient: str, at: datetime, ref: str) -> None:
        """One accepted break-the-glass (`ref`: its command id), counted once however often it is redelivered."""
    async def glass_broken_since(self, since: datetime, now: datetime) -> list[Use]:
        """The breaks of the glass after `since`, up to `now` (each once), for the operators' watch."""
    async def prune_counters(self, now: datetime) -> int:
        """Forget wrong guesses and breaks of the glass no window counts any more; how many."""
    async def grant_counts(self, now: datetime) -> dict[str, int]: ...
    async def effects_done(self, command_id: str) -> bool: ...
    async def mark_effects_done(self, command_id: str, at: datetime) -> None: ...
    async def first_refusal(self, command_id: str, outcome: dict[str, Any]) -> dict[str, Any]: ...
    async def put_pending_presence(self, command_id: str, password_hash: str, sealed: dict[str, str],
                                   at: datetime, patient: str) -> bool: ...
    async def pending_presence(self, command_id: str) -> dict[str, Any] | None: ...
    async def forget_sealed_presence(self, command_id: str) -> None: ...
    async def put_redemption(self, command_id: str, patient: str, professional: str, at: datetime) -> None: ...
    async def redemption(self, command_id: str) -> dict[str, Any] | None: ...


class Checkpoints(Protocol):
    """The heads access checkpointed outside its database (`service.checkpoints.CheckpointBook` on Kafka,
    `tests.fakes.access.FakeCheckpoints` in memory)."""

    @property
    def sealed(self) -> bool:
        """access has checkpointed the chains it found when it first keyed entries (after that, an unsigned chain
        without a checkpoint is nobody's access wrote)."""

    def latest(self, patient: str) -> Checkpoint | None:
        """The newest checkpoint of the patient's chain as the topic (which only access may write) says."""

    def checked(self, patient: str) -> Checkpoint | None:
        """The same, its signature checked with access's public key (None, and a warning, if it does not hold)."""

    def note(self, patient: str, head: Head) -> None:
        """An entry stored at `head`: checkpoint it soon (coalesced per patient, off the decision's path)."""


class AuditTrail(Protocol):
    """Where a patient's chain is kept (`store.audit_log.AuditLog` on MongoDB, `tests.fakes.access.FakeAuditTrail` in
    memory): appended once per `ref`, read newest first by page, read whole, and verified against access's key and
    checkpoint."""

    async def load_heads(self) -> int: ...
    async def append(self, patient: str, at: datetime, actor_kind: str, actor_id: str, action: str,
                     document: str | None, allowed: bool, reason: str, ref: str | None = None,
                     via: str = "", justification: str = "") -> AuditEntry: ...
    async def page(self, patient: str, before_seq: int | None, limit: int) -> list[AuditEntry]: ...
    async def chain(self, patient: str) -> list[AuditEntry]: ...
    async def verify(self, patient: str, chain: Sequence[AuditEntry] | None = None) -> Verdict:
        """The chain (read now, or `chain` as just read) checked against the key and the checkpoint."""
