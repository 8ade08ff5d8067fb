"""access's Kafka subscribers, thin: each decodes its topic and calls one use case — directory and registry facts
(`service/registry.py`), activated accounts (the agency's presence password, `service/presence.py`), commands and
document visibility (`service/apply.py`), the view's refresh (`service/view.py`)."""

from __future__ import annotations

from faststream import AckPolicy

from schemas.access import AccessChangedV1, AccessCommandV1
from schemas.activation import AccountActivatedV1
from schemas.directory import ProfessionalListedV1
from schemas.records import DocumentVisibilityChangedV1
from schemas.registry import PersonRegisteredV1
from schemas.topics import (
    ACCESS_CHANGES,
    ACCESS_COMMANDS,
    ACTIVATION_ACCOUNTS,
    DIRECTORY_PROFESSIONALS,
    DOCUMENT_VISIBILITY,
    REGISTRY_PERSONS,
)
from services.kit.broker import consumer_options
from services.kit.contracts import json_decoder
from services.kit.runtime import Runtime

from .service.apply import ApplyCommands
from .service.presence import PresencePasswords
from .service.registry import Registry
from .service.view import AccessView


def register(rt: Runtime, registry: Registry, commands: ApplyCommands, passwords: PresencePasswords,
             view: AccessView) -> None:
    options = consumer_options(rt.settings)

    @rt.broker.subscriber(DIRECTORY_PROFESSIONALS.name, **options, decoder=json_decoder(ProfessionalListedV1),
                          title="access.professionals",
                          description="Keep the professional directory that access decisions refer to")
    async def on_professional_listed(pro: ProfessionalListedV1) -> None:
        await registry.professional_listed(pro)

    @rt.broker.subscriber(DIRECTORY_PROFESSIONALS.name, auto_offset_reset="earliest", ack_policy=AckPolicy.ACK_FIRST,
                          decoder=json_decoder(ProfessionalListedV1), title="access.view-professionals",
                          description="Every replica (no consumer group) knows every listed professional")
    async def on_professional_for_view(pro: ProfessionalListedV1) -> None:
        registry.professional_seen(pro)

    @rt.broker.subscriber(REGISTRY_PERSONS.name, **options, decoder=json_decoder(PersonRegisteredV1),
                          title="access.persons", description="Know patients and assistants: names, guardians")
    async def on_person(person: PersonRegisteredV1) -> None:
        await registry.person_registered(person)

    @rt.broker.subscriber(ACTIVATION_ACCOUNTS.name, **options, decoder=json_decoder(AccountActivatedV1),
                          title="access.accounts", description="An account became active: the agency's presence "
                                                               "password, posted by letter (once per event)")
    async def on_account_activated(event: AccountActivatedV1) -> None:
        await passwords.issue(event)

    @rt.broker.subscriber(ACCESS_COMMANDS.name, **options, decoder=json_decoder(AccessCommandV1),
                          title="access.commands", description="Patients' and professionals' access commands")
    async def on_command(command: AccessCommandV1) -> None:
        await commands.handle(command.root)

    @rt.broker.subscriber(DOCUMENT_VISIBILITY.name, **options, decoder=json_decoder(DocumentVisibilityChangedV1),
                          title="access.document-visibility", description="Hide blocked documents from professionals")
    async def on_visibility(event: DocumentVisibilityChangedV1) -> None:
        await commands.document_visibility(event)

    @rt.broker.subscriber(ACCESS_CHANGES.name, auto_offset_reset="latest", ack_policy=AckPolicy.ACK_FIRST,
                          decoder=json_decoder(AccessChangedV1), title="access.view-refresh",
                          description="Every replica (no consumer group) refreshes its in-memory view")
    async def on_changed(change: AccessChangedV1) -> None:
        await view.refresh(change.patient, change.version)
