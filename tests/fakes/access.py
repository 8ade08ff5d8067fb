"""access's store, audit trail and checkpoints in memory (the `services.access.store.Store`, `AuditTrail` and
`Checkpoints` protocols), and `FakeAccess`: every use case built by the app's own bootstrap (`app.use_cases`) over
them, with recording publishers. The patient state goes through the store's own codec, as it would through
MongoDB."""

from __future__ import annotations

import base64
import copy
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from services.access.app import UseCases, use_cases
from services.access.domain import audit, audit_check
from services.access.domain.audit import AuditEntry, AuditKeys, Checkpoint, Head
from services.access.domain.decisions import PatientAccess
from services.access.domain.directory import ProfessionalCard
from services.access.domain.emergency import Use
from services.access.domain.signing import AuditSigner
from services.access.service.effects import Publishers
from services.access.service.view import AccessView
from services.access.store import RECENT_COMMANDS, PatientDoc, decode_access, decode_doc, encode_access
from tests.fakes.publish import Sent

Doc = dict[str, Any]


class FakeAccessStore:
    def __init__(self) -> None:
        self.patients: dict[str, Doc] = {}
        self.persons: dict[str, Doc] = {}
        self.professionals: dict[str, Doc] = {}
        self.expiries: dict[str, Doc] = {}
        self.first_access: dict[str, datetime] = {}
        self.presence_failures: list[tuple[str, datetime, str]] = []
        self.done: set[str] = set()
        self.refusals: dict[str, Doc] = {}
        self.presence_pending: dict[str, Doc] = {}
        self.presence_redemptions: dict[str, Doc] = {}
        self.glass: dict[str, Use] = {}  # breaks of the glass by command id

    async def ensure_indexes(self) -> None:
        return None

    async def load(self, patient: str) -> PatientDoc:
        raw = self.patients.get(patient)
        return decode_doc(copy.deepcopy(raw)) if raw else PatientDoc(patient)

    async def save(self, doc: PatientDoc, now: datetime) -> bool:
        stored = self.patients.get(doc.patient)
        if (stored["version"] if stored else 0) != doc.version:
            return False
        self.patients[doc.patient] = copy.deepcopy({
            "_id": doc.patient, "version": doc.version + 1, "access": encode_access(doc.access),
            "presence_hash": doc.presence_hash, "consents": doc.consents, "recent": doc.recent[-RECENT_COMMANDS:],
            "updated_at": now})
        doc.version += 1
        return True

    async def versions(self, since: datetime | None = None) -> AsyncIterator[tuple[str, int, PatientAccess, datetime]]:
        for raw in list(self.patients.values()):
            if since is None or raw["updated_at"] >= since:
                yield raw["_id"], raw["version"], decode_access(raw["access"]), raw["updated_at"]

    async def version(self, patient: str) -> tuple[int, PatientAccess] | None:
        raw = self.patients.get(patient)
        return (raw["version"], decode_access(raw["access"])) if raw else None

    async def put_professional(self, professional_id: str, fields: Doc, at: datetime) -> bool:
        created = professional_id not in self.professionals
        self.professionals.setdefault(professional_id, {"_id": professional_id, "listed_at": at}).update(fields)
        return created

    async def put_person(self, matricule: str, fields: Doc, at: datetime) -> bool:
        created = matricule not in self.persons
        self.persons.setdefault(matricule, {"_id": matricule, "registered_at": at}).update(fields)
        return created

    async def claim_first_access(self, marker: str, at: datetime) -> bool:
        if marker in self.first_access:  # a unique insert: the first caller only (not "the same time again")
            return False
        self.first_access[marker] = at
        return True

    async def release_first_access(self, marker: str) -> None:
        self.first_access.pop(marker, None)

    async def prune_changes(self, now: datetime) -> int:
        return 0  # the fake keeps no change markers: its view is told of every save

    async def due_ends(self, now: datetime, limit: int) -> list[Doc]:
        due = [dict(e) for e in self.expiries.values() if e["state"] == "pending" and e["ends_at"] <= now]
        return due[:limit]

    async def end_requested(self, end_id: str, at: datetime) -> None:
        self.expiries[end_id].update(state="requested", requested_at=at)

    async def person(self, matricule: str) -> Doc | None:
        found = self.persons.get(matricule)
        return dict(found) if found else None

    async def persons_by_id(self, matricules: set[str]) -> dict[str, Doc]:
        return {m: dict(self.persons[m]) for m in matricules if m in self.persons}

    async def professional_cards(self) -> AsyncIterator[ProfessionalCard]:
        for raw in self.professionals.values():
            yield self._card(raw)

    async def professional_card(self, professional_id: str) -> ProfessionalCard | None:
        raw = self.professionals.get(professional_id)
        return self._card(raw) if raw else None

    @staticmethod
    def _card(raw: dict[str, Any]) -> ProfessionalCard:
        return ProfessionalCard(raw["_id"], raw.get("given_name", ""), raw.get("family_name", ""),
                                raw.get("profession", ""), raw.get("specialty"), raw.get("practice_id"),
                                raw.get("active", True) is not False)

    async def schedule_end(self, patient: str, kind: str, subject: str, ends_at: datetime) -> None:
        key = f"{patient}|{kind}|{subject}|{ends_at.isoformat()}"
        self.expiries.setdefault(key, {"_id": key, "patient": patient, "kind": kind, "subject": subject,
                                       "ends_at": ends_at, "state": "pending"})

    async def presence_failures_since(self, key: str, since: datetime) -> int:
        return sum(1 for counted, at, _ in self.presence_failures if counted == key and at > since)

    async def presence_failed(self, keys: list[str], at: datetime, ref: str) -> None:
        for key in keys:
            if (key, at, ref) not in self.presence_failures:  # the same guess again: counted once
                self.presence_failures.append((key, at, ref))

    async def glass_broken(self, professional: str, patient: str, at: datetime, ref: str) -> None:
        self.glass.setdefault(ref, Use(professional, patient, at))  # a unique insert: the first one stays

    async def glass_broken_since(self, since: datetime, now: datetime) -> list[Use]:
        return [use for use in self.glass.values() if since < use.at <= now + timedelta(hours=1)]

    async def prune_counters(self, now: datetime) -> int:
        before = len(self.presence_failures) + len(self.glass)
        self.presence_failures = [f for f in self.presence_failures if f[1] >= now - timedelta(hours=2)]
        self.glass = {ref: use for ref, use in self.glass.items() if use.at >= now - timedelta(hours=48)}
        return before - len(self.presence_failures) - len(self.glass)

    async def grant_counts(self, now: datetime) -> dict[str, int]:
        pending = [e for e in self.expiries.values() if e["state"] == "pending" and e["ends_at"] > now]
        return {"active": len(pending), "expiring_24h": sum(1 for e in pending
                                                            if e["ends_at"] <= now + timedelta(hours=24)),
                "expired": sum(1 for e in self.expiries.values() if e["state"] in ("requested", "done"))}

    async def effects_done(self, command_id: str) -> bool:
        return command_id in self.done

    async def mark_effects_done(self, command_id: str, at: datetime) -> None:
        self.done.add(command_id)

    async def first_refusal(self, command_id: str, outcome: Doc) -> Doc:
        return dict(self.refusals.setdefault(command_id, copy.deepcopy(outcome)))

    async def put_pending_presence(self, command_id: str, password_hash: str, sealed: dict[str, str],
                                   at: datetime, patient: str) -> bool:
        if command_id in self.presence_pending:
            return False
        self.presence_pending[command_id] = {"_id": command_id, "hash": password_hash, "sealed": dict(sealed),
                                             "at": at, "patient": patient}
        return True

    async def pending_presence(self, command_id: str) -> Doc | None:
        found = self.presence_pending.get(command_id)
        return copy.deepcopy(found) if found else None

    async def forget_sealed_presence(self, command_id: str) -> None:
        if command_id in self.presence_pending:
            self.presence_pending[command_id]["sealed"] = {}

    async def put_redemption(self, command_id: str, patient: str, professional: str, at: datetime) -> None:
        assert command_id not in self.presence_redemptions, "a unique index"
        self.presence_redemptions[command_id] = {"_id": command_id, "patient": patient, "professional": professional,
                                                 "at": at}

    async def redemption(self, command_id: str) -> Doc | None:
        found = self.presence_redemptions.get(command_id)
        return dict(found) if found else None


TEST_AUDIT_KEYS = AuditKeys.derive(b"the unit tests' audit key, used nowhere else")


class FakeCheckpoints:
    """Checkpoints in memory: the heads noted, and those `publish` made checkpoints (as access's flush does)."""

    def __init__(self, sealed: bool = True) -> None:
        self.sealed = sealed
        self.heads: dict[str, Checkpoint] = {}
        self.noted: dict[str, Head] = {}

    def latest(self, patient: str) -> Checkpoint | None:
        return self.heads.get(patient)

    def checked(self, patient: str) -> Checkpoint | None:
        return self.heads.get(patient)

    def note(self, patient: str, head: Head) -> None:
        if patient not in self.noted or head.seq > self.noted[patient].seq:
            self.noted[patient] = head

    def publish(self) -> None:
        for patient, head in self.noted.items():
            self.heads[patient] = Checkpoint(head.seq, head.hash, 0, "")
        self.noted = {}


class FakeAuditTrail:
    """The chain in memory: the pure `audit.append` with the test key, once per (patient, ref)."""

    def __init__(self, keys: AuditKeys = TEST_AUDIT_KEYS, checkpoints: FakeCheckpoints | None = None) -> None:
        self.keys = keys
        self.checkpoints = checkpoints or FakeCheckpoints()
        self.chains: dict[str, list[AuditEntry]] = {}
        self.refs: dict[tuple[str, str], AuditEntry] = {}

    async def load_heads(self) -> int:
        return len(self.chains)

    async def append(self, patient: str, at: datetime, actor_kind: str, actor_id: str, action: str,
                     document: str | None, allowed: bool, reason: str, ref: str | None = None,
                     via: str = "", justification: str = "") -> AuditEntry:
        if ref is not None and (patient, ref) in self.refs:
            return self.refs[(patient, ref)]
        chain = self.chains.setdefault(patient, [])
        entry = audit.append(chain[-1].head if chain else None, patient, self.keys.entries, at, actor_kind, actor_id,
                             action, document, allowed, reason, via=via, justification=justification)
        chain.append(entry)
        self.checkpoints.note(patient, entry.head)
        if ref is not None:
            self.refs[(patient, ref)] = entry
        return entry

    async def page(self, patient: str, before_seq: int | None, limit: int) -> list[AuditEntry]:
        chain = [e for e in self.chains.get(patient, []) if before_seq is None or e.seq < before_seq]
        return list(reversed(chain))[:limit]

    async def chain(self, patient: str) -> list[AuditEntry]:
        return list(self.chains.get(patient, []))

    async def verify(self, patient: str, chain: Sequence[AuditEntry] | None = None) -> audit_check.Verdict:
        found = self.checkpoints.checked(patient)
        return audit_check.verify(self.chains.get(patient, []) if chain is None else chain, self.keys.entries,
                                  found.head if found is not None else None, patient)


TEST_SIGNER = AuditSigner(base64.b64encode(bytes(range(32))).decode())  # the unit tests' audit signing key


class FakeAccess:
    """access's use cases over the in-memory store, view, audit trail and checkpoints, built as the app builds them;
    what they publish is recorded (`outcome`, `changed`, `notify`, `expired`, `command`)."""

    def __init__(self, clock: Callable[[], datetime], store: FakeAccessStore | None = None,
                 audit_trail: FakeAuditTrail | None = None, notify_key: str | None = None,
                 person_wait_s: float = 0.0) -> None:
        """`person_wait_s`: how long a command about a person not stored yet is held for her (the app's 2 s; none
        here unless a test is about that wait, so a refusal for an unknown patient is at once)."""
        self.clock = clock
        self.store = store or FakeAccessStore()
        self.audit = audit_trail or FakeAuditTrail()
        self.view = AccessView(self.store)
        self.outcome, self.changed, self.notify, self.expired, self.command = Sent(), Sent(), Sent(), Sent(), Sent()
        self.out = Publishers(self.outcome, self.changed, self.notify, self.expired, self.command)
        self.uc: UseCases = use_cases(self.store, self.view, self.audit, self.audit.checkpoints, TEST_SIGNER,
                                      self.out, clock, notify_key, person_wait_s)
