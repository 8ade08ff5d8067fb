"""records' Kafka handlers: thin — hand the records to the ingest service, the command service or the directory."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from faststream import AckPolicy, NoCast
from faststream.kafka.annotations import KafkaMessage

from schemas.directory import LaboratoryListedV1
from schemas.fhir import FhirLabBundleV1
from schemas.lab_result import LabResultV1
from schemas.records import DocumentAddedV1, DocumentVisibilityChangedV1, RecordsCommandV1
from schemas.registry import PersonRegisteredV1
from schemas.topics import (
    DIRECTORY_LABORATORIES,
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

from .commands import CommandService
from .directory import Directory
from .domain import Rejected
from .ingest import Ingestor
from .metrics import RecordsMetrics
from .store import RecordsStore


def register(rt: Runtime, store: RecordsStore, directory: Directory, sealer: Ed25519PrivateKey) -> Ingestor:
    events = rt.broker.publisher(DOCUMENT_ADDED.name, schema=DocumentAddedV1, title="records.document-added",
                                 description="A document entered a DSP, or its current version changed")
    resend = rt.broker.publisher(LAB_RESULTS.name, title="records.release-parked", include_in_schema=False)
    resend_fhir = rt.broker.publisher(LAB_RESULTS_FHIR.name, title="records.release-fhir", include_in_schema=False)
    ingest = Ingestor(store, rt.dead_letters, events.publish, resend.publish, rt.clock, rt.pseudonym,
                      rt.settings.max_attempts, RecordsMetrics(rt.registry), directory=directory, sealer=sealer,
                      send_fhir=resend_fhir.publish)

    @rt.broker.subscriber(LAB_RESULTS.name, **consumer_options(rt.settings), batch=True, max_records=500,
                          batch_timeout_ms=50, decoder=raw_bodies,
                          title="records.lab-results",
                          description="Verify who signed each lab result, validate, de-duplicate and store it as a "
                                      "DSP document")
    async def on_lab_results(results: NoCast[list[LabResultV1]], msg: KafkaMessage) -> None:
        await ingest.handle(msg.raw_message)  # a batch: a tuple of records

    @rt.broker.subscriber(LAB_RESULTS_FHIR.name, **consumer_options(rt.settings), decoder=raw_bodies,
                          max_partition_fetch_bytes=FILE_MESSAGE_BYTES,
                          title="records.lab-results-fhir",
                          description="Verify who signed each FHIR R4 lab report, map it to the lab-result contract "
                                      "and store it as a JSON one")
    async def on_fhir_bundle(bundle: NoCast[FhirLabBundleV1], msg: KafkaMessage) -> None:
        try:
            await ingest.forward_fhir(msg.raw_message)
        except Rejected as exc:  # pydantic errors reach the DLQ middleware as they are
            raise BadMessage(str(exc)) from exc

    @rt.broker.subscriber(DIRECTORY_LABORATORIES.name, **consumer_options(rt.settings),
                          decoder=json_decoder(LaboratoryListedV1), title="records.laboratories",
                          description="Keep each laboratory's name and signing keys; release the results that "
                                      "waited for a key")
    async def on_laboratory(listed: LaboratoryListedV1) -> None:
        try:
            lab = await directory.listed(listed)
        except Rejected as exc:
            raise BadMessage(str(exc)) from exc
        for key in lab.keys:
            await ingest.release_key(key.kid)

    @rt.broker.subscriber(DIRECTORY_LABORATORIES.name, auto_offset_reset="earliest", ack_policy=AckPolicy.ACK_FIRST,
                          decoder=json_decoder(LaboratoryListedV1), title="records.laboratories-everywhere",
                          description="Every replica (no consumer group) knows every laboratory's keys")
    async def on_laboratory_for_memory(listed: LaboratoryListedV1) -> None:
        try:
            directory.laboratories.apply(listed)
        except Rejected:
            pass  # the group's handler dead-letters it

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
