"""records' Kafka handlers, subscribe only: each hands its records to one use case — lab results and FHIR bundles
to ingestion (`service/ingest.py`), laboratory announcements to the directory (`service/announcements.py`, and
every replica's memory: `service/directory.py`), patients' commands to `service/patient_documents.py`, registry
persons to `service/persons.py`. A domain rule broken (`Rejected`) is a dead letter with its reason."""

from __future__ import annotations

from typing import Any

from faststream import AckPolicy, NoCast
from faststream.kafka.annotations import KafkaMessage

from schemas.directory import LaboratoryListedV1
from schemas.fhir import FhirLabBundleV1
from schemas.lab_result import LabResultV1
from schemas.records import RecordsCommandV1
from schemas.registry import PersonRegisteredV1
from schemas.topics import (
    DIRECTORY_LABORATORIES,
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

from .domain.documents import Rejected
from .service.announcements import Announcements
from .service.directory import Directory
from .service.ingest import Ingestor
from .service.patient_documents import PatientDocuments
from .service.persons import Persons


def register(rt: Runtime, ingest: Ingestor, directory: Directory, announcements: Announcements,
             patient_documents: PatientDocuments, persons: Persons) -> None:
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
            await announcements.listed(listed)
        except Rejected as exc:
            raise BadMessage(str(exc)) from exc

    @rt.broker.subscriber(DIRECTORY_LABORATORIES.name, auto_offset_reset="earliest", ack_policy=AckPolicy.ACK_FIRST,
                          decoder=json_decoder(LaboratoryListedV1), title="records.laboratories-everywhere",
                          description="Every replica (no consumer group) knows every laboratory's keys")
    async def on_laboratory_for_memory(listed: LaboratoryListedV1) -> None:
        directory.remember(listed)

    @rt.broker.subscriber(RECORDS_COMMANDS.name, **consumer_options(rt.settings),
                          max_partition_fetch_bytes=FILE_MESSAGE_BYTES,  # an upload, 5 MiB of file in one record
                          decoder=json_decoder(RecordsCommandV1), title="records.commands",
                          description="Patients' uploads, block and unblock")
    async def on_command(command: RecordsCommandV1) -> None:
        try:
            await patient_documents.apply(command.root)
        except Rejected as exc:  # a domain rule: back to the sender with the reason
            raise BadMessage(str(exc)) from exc

    @rt.broker.subscriber(REGISTRY_PERSONS.name, **consumer_options(rt.settings),
                          decoder=json_decoder(PersonRegisteredV1), title="records.persons",
                          description="Know the registry's patients; release their parked results")
    async def on_person(person: PersonRegisteredV1) -> None:
        await persons.registered(person)


async def raw_bodies(msg: Any) -> Any:
    """No decoding here: each record is validated by the ingest service, so one bad record is one dead letter."""
    return msg.body
