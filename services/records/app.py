"""records' bootstrap: settings -> runtime -> store, the laboratories in memory, publishers -> the use cases
(`use_cases`) -> Kafka handlers and internal API routes -> ASGI app (the store's indexes and the stored directory
loaded at start)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from faststream.asgi import AsgiFastStream
from pydantic import Field

from schemas.records import DocumentAddedV1, DocumentVisibilityChangedV1
from schemas.topics import DOCUMENT_ADDED, DOCUMENT_VISIBILITY, LAB_RESULTS, LAB_RESULTS_FHIR
from services.kit.http import Door
from services.kit.runtime import Clock, Runtime, build_runtime, make_app, utc_now
from services.kit.servicetokens import private_key
from services.kit.settings import ServiceKey, ServiceSettings

from .api import console as console_api
from .api import documents as documents_api
from .domain.laboratories import Laboratories
from .handlers import register
from .service.announcements import Announcements
from .service.directory import Directory
from .service.ingest import Ingestor
from .service.metrics import RecordsMetrics
from .service.patient_documents import PatientDocuments
from .service.persons import Persons
from .service.reads import Reads
from .service.stats import Stats
from .store.mongo import RecordsStore


class RecordsSettings(ServiceSettings):
    service: ClassVar[str] = "records"
    http_port: int = Field(default=8101, validation_alias="DSP_RECORDS_HTTP_PORT",
                           description="Port of records' health/metrics endpoint and read API")
    service_key: ServiceKey = Field(  # required here (optional for the other workers)
        validation_alias="DSP_SERVICE_KEY",
        description="records' Ed25519 private key (base64 seed, a secret): it seals the lab results it maps from FHIR "
                    "bundles, after checking the laboratory's signature, so that lab.results.v1 can tell them from "
                    "anyone else's")


@dataclass(frozen=True)
class UseCases:
    ingest: Ingestor
    directory: Directory
    announcements: Announcements
    patient_documents: PatientDocuments
    persons: Persons
    reads: Reads
    stats: Stats


def use_cases(rt: Runtime, store: RecordsStore, settings: RecordsSettings) -> UseCases:
    broker = rt.broker
    events = broker.publisher(DOCUMENT_ADDED.name, schema=DocumentAddedV1, title="records.document-added",
                              description="A document entered a DSP, or its current version changed")
    resend = broker.publisher(LAB_RESULTS.name, title="records.release-parked", include_in_schema=False)
    resend_fhir = broker.publisher(LAB_RESULTS_FHIR.name, title="records.release-fhir", include_in_schema=False)
    visibility = broker.publisher(DOCUMENT_VISIBILITY.name, schema=DocumentVisibilityChangedV1,
                                  title="records.document-visibility",
                                  description="A document was blocked or unblocked by its patient")
    directory = Directory(store, Laboratories())
    ingest = Ingestor(store, rt.dead_letters, events.publish, resend.publish, rt.clock, rt.pseudonym,
                      settings.max_attempts, RecordsMetrics(rt.registry), directory=directory,
                      sealer=private_key(settings.service_key.get_secret_value()), send_fhir=resend_fhir.publish)
    return UseCases(ingest=ingest, directory=directory, announcements=Announcements(directory, ingest),
                    patient_documents=PatientDocuments(store, events.publish, rt.clock, visibility.publish),
                    persons=Persons(store, ingest), reads=Reads(store, directory.laboratories), stats=Stats(store))


def routes(door: Door, uc: UseCases) -> list[tuple[str, Any]]:
    return [*documents_api.routes(door, uc.reads), *console_api.routes(door, uc.stats)]


def create_app(settings: RecordsSettings, clock: Clock = utc_now) -> AsgiFastStream:
    rt = build_runtime(settings, clock)
    store = RecordsStore(rt.db)
    uc = use_cases(rt, store, settings)
    register(rt, uc.ingest, uc.directory, uc.announcements, uc.patient_documents, uc.persons)
    door = settings.door()  # the gateway's token checked once, not on every read (kit.servicetokens)
    return make_app(rt, on_startup=[store.ensure_indexes, uc.directory.load], routes=routes(door, uc))
