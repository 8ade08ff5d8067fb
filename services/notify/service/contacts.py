"""The use case "keep where a person is reached": the registry's contact facts (`registry.persons.v1`) and the
channel she chose at activation (`activation.accounts.v1`), on her contact (`domain.contacts`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from schemas.activation import AccountActivatedV1
from schemas.registry import PersonRegisteredV1

from ..domain.contacts import chosen_channel, contact_fields
from ..store.protocol import Store


class Contacts:
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store, self.clock = store, clock

    async def registered(self, person: PersonRegisteredV1) -> None:
        """The registry's facts, over what was kept (the first time seen kept once)."""
        await self.store.keep_contact(person.matricule, contact_fields(person), {"registered_at": self.clock()})

    async def activated(self, event: AccountActivatedV1) -> None:
        """The channel (and address) she chose, when the event says it."""
        chosen = chosen_channel(event)
        if chosen is not None:
            await self.store.keep_preference(event.matricule, chosen)
