"""A person access has not read from `registry.persons.v1` yet. Activation and access each read the registry on
their own, so a patient acting seconds after her registration may reach access first: her command is held until
she arrives — at most `wait_s` (an injectable bound, `DSP_ACCESS_PERSON_WAIT_S`) — instead of being refused at once
as about an unknown patient. She is still unknown after the bound: answered as before ("unknown patient")."""

from __future__ import annotations

import asyncio
from typing import Any

from ..store import Store

PERSON_WAIT_S = 2.0
FIRST_LOOK_S = 0.1  # then 0.2, 0.4, ... s between looks, until the bound


class PersonArrivals:
    def __init__(self, store: Store, wait_s: float = PERSON_WAIT_S) -> None:
        self.store, self.wait_s = store, wait_s
        self._waiting: dict[str, set[asyncio.Event]] = {}  # matricule -> one event per command held for her

    def arrived(self, matricule: str) -> None:
        """This replica stored her (`Registry.person_registered`): every command held for her goes on at once."""
        for event in self._waiting.pop(matricule, set()):
            event.set()

    async def person(self, matricule: str) -> dict[str, Any] | None:
        """Access's copy of the registry person. Not there yet: held until she arrives, up to `wait_s` — woken the
        moment this replica stores her (`arrived`), and looked up again after 0.1, 0.3, 0.7 s ... (another replica
        of the consumer group may be the one reading her partition of the registry). None after the bound."""
        found = await self.store.person(matricule)
        if found is not None or self.wait_s <= 0:
            return found
        loop = asyncio.get_running_loop()
        deadline, look = loop.time() + self.wait_s, FIRST_LOOK_S
        event = asyncio.Event()
        self._waiting.setdefault(matricule, set()).add(event)
        try:
            while found is None and not event.is_set() and (left := deadline - loop.time()) > 0:
                try:
                    await asyncio.wait_for(event.wait(), min(look, left))
                except TimeoutError:
                    look *= 2
                found = await self.store.person(matricule)
        finally:
            held = self._waiting.get(matricule)
            if held is not None:
                held.discard(event)
                if not held:
                    del self._waiting[matricule]
        return found
