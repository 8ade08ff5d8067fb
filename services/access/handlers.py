"""access's Kafka handlers: thin — directory and registry facts, activated accounts, commands, document
visibility, view refresh."""

from __future__ import annotations

import structlog
from faststream import AckPolicy

from schemas.access import AccessChangedV1, AccessCommandV1, ActorRef, SetDocumentVisibility
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

from . import domain
from .agency import AgencyPresence
from .service import AccessService

log = structlog.get_logger("dsp.access")
RECORDS = ActorRef(kind="operator", id="records")


def register(rt: Runtime, service: AccessService, agency: AgencyPresence) -> None:
    store, view, options = service.store, service.view, consumer_options(rt.settings)

    @rt.broker.subscriber(DIRECTORY_PROFESSIONALS.name, **options, decoder=json_decoder(ProfessionalListedV1),
                          title="access.professionals",
                          description="Keep the professional directory that access decisions refer to")
    async def on_professional_listed(pro: ProfessionalListedV1) -> None:
        created = await store.put_professional(pro.professional_id, domain.professional_fields(pro), rt.clock())
        log.info("professional listed" if created else "professional updated",
                 professional_id=pro.professional_id, active=pro.active)

    @rt.broker.subscriber(DIRECTORY_PROFESSIONALS.name, auto_offset_reset="earliest", ack_policy=AckPolicy.ACK_FIRST,
                          decoder=json_decoder(ProfessionalListedV1), title="access.view-professionals",
                          description="Every replica (no consumer group) knows every listed professional")
    async def on_professional_for_view(pro: ProfessionalListedV1) -> None:
        view.list_professional(domain.card(pro))

    @rt.broker.subscriber(REGISTRY_PERSONS.name, **options, decoder=json_decoder(PersonRegisteredV1),
                          title="access.persons", description="Know patients and assistants: names, guardians")
    async def on_person(person: PersonRegisteredV1) -> None:
        await store.put_person(person.matricule, domain.person_fields(person), rt.clock())

    @rt.broker.subscriber(ACTIVATION_ACCOUNTS.name, **options, decoder=json_decoder(AccountActivatedV1),
                          title="access.accounts", description="An account became active: the agency's presence "
                                                               "password, posted by letter (once per event)")
    async def on_account_activated(event: AccountActivatedV1) -> None:
        await agency.issue(event)

    @rt.broker.subscriber(ACCESS_COMMANDS.name, **options, decoder=json_decoder(AccessCommandV1),
                          title="access.commands", description="Patients' and professionals' access commands")
    async def on_command(command: AccessCommandV1) -> None:
        await service.handle(command.root)

    @rt.broker.subscriber(DOCUMENT_VISIBILITY.name, **options, decoder=json_decoder(DocumentVisibilityChangedV1),
                          title="access.document-visibility", description="Hide blocked documents from professionals")
    async def on_visibility(event: DocumentVisibilityChangedV1) -> None:
        command = SetDocumentVisibility(command="set-document-visibility", command_id=f"vis-{event.event_id}",
                                        patient=event.patient_matricule, actor=RECORDS, document_id=event.document_id,
                                        blocked=event.blocked)  # applied by the patient's partition owner
        await service.out.command(command.model_dump(mode="json"), key=event.patient_matricule.encode())

    @rt.broker.subscriber(ACCESS_CHANGES.name, auto_offset_reset="latest", ack_policy=AckPolicy.ACK_FIRST,
                          decoder=json_decoder(AccessChangedV1), title="access.view-refresh",
                          description="Every replica (no consumer group) refreshes its in-memory view")
    async def on_changed(change: AccessChangedV1) -> None:
        await view.refresh(change.patient, change.version)
