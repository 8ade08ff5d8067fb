"""Names for what a person reads: professionals from the view's directory copy, people from access's copy of the
registry (given and family name only), the agency for operators and access's own internal commands."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from schemas.access import AuditActor, ProfessionalRef

from ..domain import directory
from ..store import Store
from .view import AccessView


class Names:
    def __init__(self, store: Store, view: AccessView) -> None:
        self.store, self.view = store, view

    def professional(self, professional_id: str) -> ProfessionalRef:
        card = self.view.card(professional_id)
        if card is None:
            return ProfessionalRef(professional_id=professional_id, name=None, profession=None, specialty=None)
        return ProfessionalRef(professional_id=professional_id, name=card.name, profession=card.profession,
                               specialty=card.specialty)

    async def people(self, matricules: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Access's copy of these registry persons (names, guardians), by matricule; the unknown are left out."""
        return await self.store.persons_by_id(set(matricules))

    async def person_names(self, matricules: Iterable[str]) -> dict[str, str | None]:
        found = await self.people(matricules)
        return {m: directory.person_name(raw) for m, raw in found.items()}

    def actor(self, kind: str, actor_id: str, people: dict[str, str | None]) -> AuditActor:
        """Who did it, named (`people`: the names of the persons among the actors)."""
        if kind == "professional":
            pro = self.professional(actor_id)
            return AuditActor(kind="professional", id=actor_id, name=pro.name, profession=pro.profession,
                              specialty=pro.specialty)
        if kind == "patient":
            return AuditActor(kind="patient", id=actor_id, name=people.get(actor_id))
        return AuditActor(kind="operator", id=actor_id, name=directory.AGENCY)
