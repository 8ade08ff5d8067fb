"""The in-memory view decisions read: every patient's access state, from a MongoDB snapshot at start, then
refreshed by `access.changes.v1` (every replica reads it without a consumer group) and a periodic catch-up.
A stored version older than the one in memory is ignored, so refreshes may arrive in any order.

Beside it: the professional directory (every replica reads the whole topic, so names, search and "is this
professional listed" agree with decisions), and two indexes kept with each state — the patients each person
assists and the patients each professional holds a grant on — so "patients of" and "assisted DSPs" read only
their own patients."""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from ..domain.decisions import Action, Actor, Decision, PatientAccess, decide
from ..domain.directory import ProfessionalCard
from ..store import Store

log = structlog.get_logger("dsp.access.view")


class AccessView:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.patients: dict[str, tuple[int, PatientAccess]] = {}
        self.professionals: set[str] = set()  # listed and active
        self.directory: dict[str, ProfessionalCard] = {}  # every professional ever listed
        self.by_assistant: dict[str, set[str]] = {}  # assistant's matricule -> patients
        self.by_professional: dict[str, set[str]] = {}  # professional -> patients they hold a grant on
        self.synced_until: datetime | None = None  # the newest state read (snapshot) or the last catch-up's time
        self.loaded_at: datetime | None = None  # when the snapshot was read: every state saved before is in it

    def put(self, patient: str, version: int, access: PatientAccess) -> None:
        current = self.patients.get(patient)
        if current is None or version > current[0]:
            if current is not None:
                self._index(patient, current[1], add=False)
            self.patients[patient] = (version, access)
            self._index(patient, access, add=True)

    def _index(self, patient: str, access: PatientAccess, add: bool) -> None:
        for index, keys in ((self.by_assistant, set(access.assistants)),
                            (self.by_professional, {g.professional_id for g in access.grants.values()})):
            for key in keys:
                if add:
                    index.setdefault(key, set()).add(patient)
                elif key in index:
                    index[key].discard(patient)
                    if not index[key]:
                        del index[key]

    def list_professional(self, card: ProfessionalCard) -> None:
        self.directory[card.professional_id] = card
        (self.professionals.add if card.active else self.professionals.discard)(card.professional_id)

    async def load(self, now: datetime | None = None) -> None:
        """The snapshot: every stored patient and every professional the directory listed. `now` (the clock when
        it starts): every state saved before is in it, so the first catch-up reads only the change markers since —
        not, when no state changed for hours (`changes.FULL_READ_AFTER`), every state again (FerretDB: ~7 s of its
        CPU for 20,000 patients; then the worker decoded them all again, outside the heap frozen at start)."""
        self.loaded_at = now
        async for patient, version, access, updated_at in self.store.versions():
            self.put(patient, version, access)
            if self.synced_until is None or updated_at > self.synced_until:
                self.synced_until = updated_at
        async for card in self.store.professional_cards():
            self.list_professional(card)
        log.info("access view loaded", patients=len(self.patients), professionals=len(self.professionals))

    async def refresh(self, patient: str, version: int) -> None:
        if patient in self.patients and self.patients[patient][0] >= version:
            return
        found = await self.store.version(patient)
        if found:
            self.put(patient, *found)

    async def catch_up(self, now: datetime) -> int:
        """Re-read patients changed since the last catch-up or the snapshot (a missed change event costs one period)."""
        known = [t for t in (self.synced_until, self.loaded_at) if t is not None]
        since = (max(known) if known else now) - timedelta(seconds=30)
        count = 0
        async for patient, version, access, _ in self.store.versions(since):
            self.put(patient, version, access)
            count += 1
        self.synced_until = now
        return count

    async def professional_known(self, professional_id: str) -> bool:
        """From memory: the snapshot plus the directory topic, which every replica reads in full. One this replica
        has not read yet (listed a moment ago: the directory's group consumer may store it first) is looked up by
        `_id`; one it has read is never looked up (a stored copy may be older than a deactivation read here)."""
        if professional_id in self.professionals:
            return True
        if professional_id in self.directory:
            return False
        card = await self.store.professional_card(professional_id)
        if card is None:
            return False
        self.list_professional(card)
        return card.active

    def card(self, professional_id: str) -> ProfessionalCard | None:
        return self.directory.get(professional_id)

    def display(self, professional_id: str) -> str:
        """How a notice names a professional: name (profession, specialty); the id if the directory lacks them."""
        found = self.directory.get(professional_id)
        return found.display() if found else professional_id

    def state(self, patient: str) -> PatientAccess | None:
        entry = self.patients.get(patient)
        return entry[1] if entry else None

    async def decide(self, actor: Actor, action: Action, patient: str, now: datetime,
                     document: str | None = None) -> Decision:
        known = actor.kind != "professional" or await self.professional_known(actor.id)
        return decide(self.state(patient), actor, action, patient, now, document, known)
