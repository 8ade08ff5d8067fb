"""activation's Kafka handlers: registry persons (a letter each), and the helpdesk's commands."""

from __future__ import annotations

from schemas.activation import ActivationCommandV1
from schemas.registry import PersonRegisteredV1
from schemas.topics import ACTIVATION_COMMANDS, REGISTRY_PERSONS
from services.kit.broker import consumer_options
from services.kit.contracts import json_decoder
from services.kit.runtime import Runtime

from .service.helpdesk import HelpdeskCommands
from .service.letters import Letters


def register(rt: Runtime, letters: Letters, helpdesk: HelpdeskCommands) -> None:
    options = consumer_options(rt.settings)

    @rt.broker.subscriber(REGISTRY_PERSONS.name, **options, decoder=json_decoder(PersonRegisteredV1),
                          title="activation.persons",
                          description="Keep the registry's persons; send each new person an activation letter")
    async def on_person_registered(person: PersonRegisteredV1) -> None:
        await letters.registered(person)

    @rt.broker.subscriber(ACTIVATION_COMMANDS.name, **options, decoder=json_decoder(ActivationCommandV1),
                          title="activation.commands", description="Helpdesk: a new letter, clearing failure counts")
    async def on_command(command: ActivationCommandV1) -> None:
        await helpdesk.apply(command.root)
