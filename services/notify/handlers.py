"""notify's Kafka handlers, subscribe only: registry contacts and the channel each person chose at activation
(`service/contacts.py`), notification requests (`service/delivery.py`), document events turned into in-app
notices (`service/documents.py`)."""

from __future__ import annotations

from aiokafka import ConsumerRecord
from faststream.kafka.annotations import KafkaMessage

from schemas.activation import AccountActivatedV1
from schemas.notify import NotificationRequestV1
from schemas.records import DocumentAddedV1
from schemas.registry import PersonRegisteredV1
from schemas.topics import ACTIVATION_ACCOUNTS, DOCUMENT_ADDED, NOTIFY_REQUESTS, REGISTRY_PERSONS
from services.kit.broker import consumer_options
from services.kit.contracts import json_decoder
from services.kit.runtime import Runtime

from .service.contacts import Contacts
from .service.delivery import Delivery
from .service.documents import DocumentNotices


def register(rt: Runtime, contacts: Contacts, delivery: Delivery, notices: DocumentNotices) -> None:
    options = consumer_options(rt.settings)

    @rt.broker.subscriber(REGISTRY_PERSONS.name, **options, decoder=json_decoder(PersonRegisteredV1),
                          title="notify.contacts", description="Where to reach each person (registry)")
    async def on_person(person: PersonRegisteredV1) -> None:
        await contacts.registered(person)

    @rt.broker.subscriber(ACTIVATION_ACCOUNTS.name, **options, decoder=json_decoder(AccountActivatedV1),
                          title="notify.channels",
                          description="The channel (e-mail or SMS) each person chose at activation, where her "
                                      "alerts go")
    async def on_account(event: AccountActivatedV1) -> None:
        await contacts.activated(event)

    @rt.broker.subscriber(NOTIFY_REQUESTS.name, **options, decoder=json_decoder(NotificationRequestV1),
                          title="notify.requests",
                          description="Deliver each request once: e-mail, SMS, PDF letter or in-app")
    async def on_request(req: NotificationRequestV1) -> None:
        await delivery.handle(req)

    @rt.broker.subscriber(DOCUMENT_ADDED.name, **options, decoder=json_decoder(DocumentAddedV1),
                          title="notify.documents",
                          description="One in-app notice to the patient per new or corrected document (and per "
                                      "withdrawn one that had been shown), once per event")
    async def on_document(event: DocumentAddedV1, msg: KafkaMessage) -> None:
        record = msg.raw_message  # one record (not a batch subscriber): its key must be the patient's
        await notices.handle(event, record.key if isinstance(record, ConsumerRecord) else None)
