"""activation's Kafka handlers: registry persons (a letter each), and the helpdesk's commands."""

from __future__ import annotations

import structlog

from schemas.activation import ActivationCommandV1
from schemas.registry import PersonRegisteredV1
from schemas.topics import ACTIVATION_COMMANDS, REGISTRY_PERSONS
from services.kit.broker import consumer_options
from services.kit.contracts import json_decoder
from services.kit.runtime import Runtime

from .domain import account
from .service import ActivationService

log = structlog.get_logger("dsp.activation")


def register(rt: Runtime, service: ActivationService) -> None:
    options = consumer_options(rt.settings)

    @rt.broker.subscriber(REGISTRY_PERSONS.name, **options, decoder=json_decoder(PersonRegisteredV1),
                          title="activation.persons",
                          description="Keep the registry's persons; send each new person an activation letter")
    async def on_person_registered(person: PersonRegisteredV1) -> None:
        now = rt.clock()
        fields = account.person_fields(person)
        created = await service.store.put_person(person.matricule, fields, {"registered_at": now})
        await service.letter(person.matricule, fields)
        log.info("person registered" if created else "person updated", patient_ref=rt.pseudonym(person.matricule),
                 minor=account.is_minor(person.matricule, now.date()))

    @rt.broker.subscriber(ACTIVATION_COMMANDS.name, **options, decoder=json_decoder(ActivationCommandV1),
                          title="activation.commands", description="Helpdesk: a new letter, clearing failure counts")
    async def on_command(command: ActivationCommandV1) -> None:
        await service.helpdesk(command.root)
