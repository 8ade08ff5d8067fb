"""records' Kafka handlers: thin — hand the records to the ingest service or the command service."""

from __future__ import annotations

from typing import Any

from faststream import NoCast
from faststream.kafka.annotations import KafkaMessage

from schemas.fhir import FhirLabBundleV1
from schemas.lab_result import LabResultV1
from schemas.records import DocumentAddedV1, DocumentVisibilityChangedV1, RecordsCommandV1
from schemas.registry import PersonRegisteredV1
from schemas.topics import (
    DOCUMENT_ADDED,
    DOCUMENT_VISIBILITY,
    FILE_MESSAGE_BYTES,
    LAB_RESULTS,
    LAB_RESULTS_FHIR,
    RECORDS_COMMANDS,
    REGISTRY_PERSONS,
)
from services.kit.broker import consumer_options
from services.kit.contracts import json_decoder
from services.kit.errors import BadMessage
from services.kit.runtime import Runtime

from . import fhir
from .commands import CommandService
from .domain import Rejected
from .ingest import Ingestor
from .metrics import RecordsMetrics
from .store import RecordsStore


def register(rt: Runtime, store: RecordsStore) -> Ingestor:
    events = rt.broker.publisher(DOCUMENT_ADDED.name, schema=DocumentAddedV1, title="records.document-added",
                                 description="A document entered a DSP, or its current version changed")
    resend = rt.broker.publisher(LAB_RESULTS.name, title="records.release-parked", include_in_schema=False)
    ingest = Ingestor(store, rt.dead_letters, events.publish, resend.publish, rt.clock, rt.pseudonym,
                      rt.settings.max_attempts, RecordsMetrics(rt.registry))

    @rt.broker.subscriber(LAB_RESULTS.name, **consumer_options(rt.settings), batch=True, max_records=500,
                          batch_timeout_ms=50, decoder=raw_bodies,
                          title="records.lab-results",
                          description="Validate, de-duplicate and store each lab result as a DSP document")
    async def on_lab_results(results: NoCast[list[LabResultV1]], msg: KafkaMessage) -> None:
        await ingest.handle(msg.raw_message)  # a batch: a tuple of records

    @rt.broker.subscriber(LAB_RESULTS_FHIR.name, **consumer_options(rt.settings), decoder=raw_bodies,
                          max_partition_fetch_bytes=FILE_MESSAGE_BYTES,
                          title="records.lab-results-fhir",
                          description="Map FHIR R4 lab reports to the lab-result contract; store them as JSON ones")
    async def on_fhir_bundle(bundle: NoCast[FhirLabBundleV1], msg: KafkaMessage) -> None:
        try:
            result = fhir.to_lab_result(msg.body)
        except Rejected as exc:  # pydantic errors reach the DLQ middleware as they are
            raise BadMessage(str(exc)) from exc
        await resend.publish(result.model_dump_json(exclude_none=True).encode(),
                             key=f"{result.laboratory_id}:{result.report_id}".encode(),
                             headers={"dsp-source-topic": LAB_RESULTS_FHIR.name})

    visibility = rt.broker.publisher(DOCUMENT_VISIBILITY.name, schema=DocumentVisibilityChangedV1,
                                     title="records.document-visibility",
                                     description="A document was blocked or unblocked by its patient")
    commands = CommandService(store, events.publish, rt.clock, visibility.publish)

    @rt.broker.subscriber(RECORDS_COMMANDS.name, **consumer_options(rt.settings),
                          max_partition_fetch_bytes=FILE_MESSAGE_BYTES,  # an upload, 5 MiB of file in one record
                          decoder=json_decoder(RecordsCommandV1), title="records.commands",
                          description="Patients' uploads, block and unblock")
    async def on_command(command: RecordsCommandV1) -> None:
        try:
            await commands.apply(command.root)
        except Rejected as exc:  # a domain rule: back to the sender with the reason
            raise BadMessage(str(exc)) from exc

    @rt.broker.subscriber(REGISTRY_PERSONS.name, **consumer_options(rt.settings),
                          decoder=json_decoder(PersonRegisteredV1), title="records.persons",
                          description="Know the registry's patients; release their parked results")
    async def on_person(person: PersonRegisteredV1) -> None:
        await store.add_person(person.matricule)
        await ingest.release(person.matricule)

    return ingest


async def raw_bodies(msg: Any) -> Any:
    """No decoding here: each record is validated by the ingest service, so one bad record is one dead letter."""
    return msg.body
