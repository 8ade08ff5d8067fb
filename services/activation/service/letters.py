"""Letters: a registry person gets one, with the activation code of generation 1; a forgotten password and the
helpdesk's `reissue-code` send the next generation's. The code is derived from the code key, the matricule and the
generation (`rules.activation_code`), so a redelivered message re-sends the same letter, and a new generation
retires the old code; the account keeps only its argon2 hash."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import structlog

from schemas.registry import PersonRegisteredV1
from services.kit.hashing import hash_secret

from ..domain import account, rules
from ..domain.account import Account
from ..store.protocol import Store
from .effects import Effects
from .guard import Guards

log = structlog.get_logger("dsp.activation")


class Letters:
    def __init__(self, store: Store, guards: Guards, effects: Effects, clock: Callable[[], datetime],
                 code_key: bytes, pseudonym: Callable[[str], str]) -> None:
        self.store, self.guards, self.effects, self.clock = store, guards, effects, clock
        self.key, self.pseudonym = code_key, pseudonym

    async def registered(self, person: PersonRegisteredV1) -> None:
        """A person from the registry (`registry.persons`): kept, and sent a letter (idempotent on both)."""
        now = self.clock()
        fields = account.person_fields(person)
        created = await self.store.put_person(person.matricule, fields, {"registered_at": now})
        await self.send(person.matricule, fields)
        log.info("person registered" if created else "person updated", patient_ref=self.pseudonym(person.matricule),
                 minor=account.is_minor(person.matricule, now.date()))

    async def send(self, matricule: str, person: Mapping[str, Any], generation: int = 1) -> None:
        """Issue the activation code of `generation` and request its letter (idempotent on both)."""
        now = self.clock()
        code = rules.activation_code(self.key, matricule, generation)
        fields: Account = {"generation": generation, "code_hash": await hash_secret(code), "code_issued_at": now,
                           "code_expires_at": now + rules.CODE_VALIDITY, "code_used": False}
        if not await self.store.create_account({"_id": matricule, "state": "", "active": False, "recent": [],
                                                **fields}):
            acc = await self.store.account(matricule) or {}
            if acc.get("generation", 0) > generation:
                return
            if acc.get("generation", 0) < generation:
                await self.store.set_account(matricule, fields)
                await self.guards.reset("code", matricule)
        address = person.get("postal_address", {})
        params = {"given_name": person["given_name"], "family_name": person["family_name"],
                  **{k: str(v) for k, v in address.items() if v}}
        await self.effects.notify(f"letter:{matricule}:{generation}", matricule, "letter", "activation-code", params,
                                  sealed={"code": code})
