"""activation's Kafka handlers."""

from __future__ import annotations

import structlog

from schemas.registry import PersonRegisteredV1
from schemas.topics import REGISTRY_PERSONS
from services.kit.broker import consumer_options
from services.kit.contracts import json_decoder
from services.kit.projection import upsert
from services.kit.runtime import Runtime

from . import domain

log = structlog.get_logger("dsp.activation")


def register(rt: Runtime) -> None:
    persons = rt.db["persons"]

    @rt.broker.subscriber(REGISTRY_PERSONS.name, **consumer_options(rt.settings),
                          decoder=json_decoder(PersonRegisteredV1), title="activation.persons",
                          description="Keep the registry's persons: who gets an activation letter, and where")
    async def on_person_registered(person: PersonRegisteredV1) -> None:
        now = rt.clock()
        created = await upsert(persons, person.matricule, domain.person_fields(person),
                               {"registered_at": now, "status": "registered"})
        log.info("person registered" if created else "person updated", patient_ref=rt.pseudonym(person.matricule),
                 minor=domain.is_minor(person.matricule, now.date()))
