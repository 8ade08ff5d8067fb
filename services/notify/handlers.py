"""notify's Kafka handlers: registry contacts, and notification requests handed to the delivery service."""

from __future__ import annotations

from schemas.notify import NotificationRequestV1
from schemas.registry import PersonRegisteredV1
from schemas.topics import NOTIFY_REQUESTS, REGISTRY_PERSONS
from services.kit.broker import consumer_options
from services.kit.contracts import json_decoder
from services.kit.projection import upsert
from services.kit.runtime import Runtime

from .domain import contact_fields
from .service import NotifyService


def register(rt: Runtime, service: NotifyService) -> None:
    options = consumer_options(rt.settings)

    @rt.broker.subscriber(REGISTRY_PERSONS.name, **options, decoder=json_decoder(PersonRegisteredV1),
                          title="notify.contacts", description="Where to reach each person (registry)")
    async def on_person(person: PersonRegisteredV1) -> None:
        await upsert(service.contacts, person.matricule, contact_fields(person), {"registered_at": rt.clock()})

    @rt.broker.subscriber(NOTIFY_REQUESTS.name, **options, decoder=json_decoder(NotificationRequestV1),
                          title="notify.requests",
                          description="Deliver each request once: e-mail, SMS, PDF letter or in-app")
    async def on_request(req: NotificationRequestV1) -> None:
        await service.handle(req)
