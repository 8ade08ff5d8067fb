"""The directory's and the registry's facts access keeps (`directory.professionals.v1`, `registry.persons.v1`): a
professional listed or updated (stored, and known to this replica's view: every replica reads the whole topic),
a person registered (names and guardians, nothing more; a command held for her goes on: `arrivals.py`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog

from schemas.directory import ProfessionalListedV1
from schemas.registry import PersonRegisteredV1

from ..domain import directory
from ..store import Store
from .arrivals import PersonArrivals
from .view import AccessView

log = structlog.get_logger("dsp.access")


class Registry:
    def __init__(self, store: Store, view: AccessView, arrivals: PersonArrivals, clock: Callable[[], datetime]
                 ) -> None:
        self.store, self.view, self.arrivals, self.clock = store, view, arrivals, clock

    async def professional_listed(self, pro: ProfessionalListedV1) -> None:
        created = await self.store.put_professional(pro.professional_id, directory.professional_fields(pro),
                                                    self.clock())
        log.info("professional listed" if created else "professional updated",
                 professional_id=pro.professional_id, active=pro.active)

    def professional_seen(self, pro: ProfessionalListedV1) -> None:
        """This replica's view of the directory (every replica, no consumer group)."""
        self.view.list_professional(directory.card(pro))

    async def person_registered(self, person: PersonRegisteredV1) -> None:
        await self.store.put_person(person.matricule, directory.person_fields(person), self.clock())
        self.arrivals.arrived(person.matricule)
