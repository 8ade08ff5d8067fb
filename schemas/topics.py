"""Every topic of the mesh: name, key, value contract, producers, consumers, partitions.

Topic names carry their contract version (`.v1`); a breaking change means a new topic.
Each topic has a dead-letter twin `<name>.dlq` (value: the original bytes; headers: the reason).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from .access import AccessChangedV1, AccessCommandV1, AccessOutcomeV1, GrantExpiredV1
from .activation import AccountActivatedV1, ActivationCommandV1, ActivationOutcomeV1
from .audit import AuditHeadV1
from .directory import LaboratoryListedV1, ProfessionalListedV1
from .fhir import FhirLabBundleV1
from .lab_result import LabResultV1
from .notify import DeliveryV1, NotificationRequestV1
from .records import DocumentAddedV1, DocumentVisibilityChangedV1, RecordsCommandV1
from .registry import PersonRegisteredV1

FILE_MESSAGE_BYTES = 8 * 1024 * 1024
"""The largest record of a topic that carries a file (a lab result's attachment, a patient's upload): a file of up to
5 MiB is 6.7 MiB in base64, inside its JSON and beside its headers. The topic (`max.message.bytes`, its dead-letter
twin too), the producers that write it and the consumers that read it allow this much; Kafka's default is 1 MiB."""


@dataclass(frozen=True)
class Topic:
    name: str
    key: str
    value: type[BaseModel]
    producers: str
    consumers: tuple[str, ...]
    partitions: int = 3
    compacted: bool = False  # cleanup.policy=compact: the latest record per key is kept (state, not events)
    max_message_bytes: int | None = None  # None: the broker's default (1 MiB)

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"

    @property
    def configs(self) -> dict[str, str]:
        """The topic's own configuration at creation (its dead-letter twin takes the broker's defaults)."""
        return {"cleanup.policy": "compact"} if self.compacted else {}


LAB_RESULTS = Topic("lab.results.v1", "<laboratory_id>:<report_id>", LabResultV1,
                    "laboratories", ("records",), partitions=6, max_message_bytes=FILE_MESSAGE_BYTES)
LAB_RESULTS_FHIR = Topic("lab.results.fhir.v1", "<laboratory_id>:<report_id>", FhirLabBundleV1,
                         "laboratories (FHIR R4)", ("records",), partitions=6, max_message_bytes=FILE_MESSAGE_BYTES)
REGISTRY_PERSONS = Topic("registry.persons.v1", "matricule", PersonRegisteredV1,
                         "national registry", ("activation", "records", "access", "notify"))
DIRECTORY_PROFESSIONALS = Topic("directory.professionals.v1", "professional_id", ProfessionalListedV1,
                                "professional directory", ("access",))
DIRECTORY_LABORATORIES = Topic("directory.laboratories.v1", "laboratory_id", LaboratoryListedV1,
                               "laboratory directory", ("records (group, and every replica without one)",))
NOTIFY_REQUESTS = Topic("notify.requests.v1", "request_id", NotificationRequestV1,
                        "activation, access, records", ("notify",))
NOTIFY_EVENTS = Topic("notify.events.v1", "request_id", DeliveryV1, "notify", ("console",))
ACTIVATION_COMMANDS = Topic("activation.commands.v1", "matricule", ActivationCommandV1, "helpdesk (operations)",
                            ("activation",), partitions=6)
ACTIVATION_EVENTS = Topic("activation.events.v1", "matricule", ActivationOutcomeV1, "activation", ("console",),
                          partitions=6)
ACTIVATION_ACCOUNTS = Topic("activation.accounts.v1", "matricule", AccountActivatedV1, "activation",
                            ("access", "notify", "console"))

DOCUMENT_ADDED = Topic("records.document-added.v1", "patient_matricule", DocumentAddedV1,
                       "records", ("notify", "access", "gateway"), partitions=6)
RECORDS_COMMANDS = Topic("records.commands.v1", "patient_matricule", RecordsCommandV1, "gateway", ("records",),
                         max_message_bytes=FILE_MESSAGE_BYTES)
DOCUMENT_VISIBILITY = Topic("records.document-visibility.v1", "patient_matricule", DocumentVisibilityChangedV1,
                            "records", ("access",))

ACCESS_COMMANDS = Topic("access.commands.v1", "patient", AccessCommandV1, "gateway", ("access",), partitions=6)
ACCESS_EVENTS = Topic("access.events.v1", "patient", AccessOutcomeV1, "access", ("gateway",), partitions=6)
ACCESS_GRANT_EXPIRED = Topic("access.grant-expired.v1", "patient", GrantExpiredV1, "access (sweeper)",
                             ("gateway", "console"))
ACCESS_CHANGES = Topic("access.changes.v1", "patient", AccessChangedV1, "access",
                       ("access (every replica, no group)",))
ACCESS_AUDIT_HEADS = Topic("access.audit-heads.v1", "keyed pseudonym of the patient (HMAC, no matricule)", AuditHeadV1,
                           "access", ("access (every replica, no group)",), compacted=True)

TOPICS: tuple[Topic, ...] = (LAB_RESULTS, LAB_RESULTS_FHIR, REGISTRY_PERSONS, DIRECTORY_PROFESSIONALS, NOTIFY_REQUESTS,
                             DOCUMENT_ADDED, RECORDS_COMMANDS, DOCUMENT_VISIBILITY, ACCESS_COMMANDS, ACCESS_EVENTS,
                             ACCESS_GRANT_EXPIRED, ACCESS_CHANGES, ACCESS_AUDIT_HEADS, NOTIFY_EVENTS,
                             ACTIVATION_COMMANDS, ACTIVATION_EVENTS, ACTIVATION_ACCOUNTS, DIRECTORY_LABORATORIES)


def all_topics() -> dict[str, int]:
    """Topic name -> partition count, dead-letter topics included (same partition count)."""
    names: dict[str, int] = {}
    for topic in TOPICS:
        names[topic.name] = topic.partitions
        names[topic.dlq] = topic.partitions
    return names


def topic_configs() -> dict[str, dict[str, str]]:
    """Topic name -> the configuration it is created (and kept) with: a compacted topic's `cleanup.policy`, the file
    topics' `max.message.bytes` (their dead-letter twins too, which keep the original record)."""
    out: dict[str, dict[str, str]] = {}
    for topic in TOPICS:
        if topic.configs:
            out[topic.name] = dict(topic.configs)
        if topic.max_message_bytes is not None:
            size = {"max.message.bytes": str(topic.max_message_bytes)}
            out[topic.name] = {**out.get(topic.name, {}), **size}
            out[topic.dlq] = size
    return out
