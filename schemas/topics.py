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
from .directory import ProfessionalListedV1
from .fhir import FhirLabBundleV1
from .lab_result import LabResultV1
from .notify import DeliveryV1, NotificationRequestV1
from .records import DocumentAddedV1, DocumentVisibilityChangedV1, RecordsCommandV1
from .registry import PersonRegisteredV1


@dataclass(frozen=True)
class Topic:
    name: str
    key: str
    value: type[BaseModel]
    producers: str
    consumers: tuple[str, ...]
    partitions: int = 3
    compacted: bool = False  # cleanup.policy=compact: the latest record per key is kept (state, not events)

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"

    @property
    def configs(self) -> dict[str, str]:
        """The topic's own configuration at creation (its dead-letter twin takes the broker's defaults)."""
        return {"cleanup.policy": "compact"} if self.compacted else {}


LAB_RESULTS = Topic("lab.results.v1", "<laboratory_id>:<report_id>", LabResultV1,
                    "laboratories", ("records",), partitions=6)
LAB_RESULTS_FHIR = Topic("lab.results.fhir.v1", "<laboratory_id>:<report_id>", FhirLabBundleV1,
                         "laboratories (FHIR R4)", ("records",), partitions=6)
REGISTRY_PERSONS = Topic("registry.persons.v1", "matricule", PersonRegisteredV1,
                         "national registry", ("activation", "records", "access", "notify"))
DIRECTORY_PROFESSIONALS = Topic("directory.professionals.v1", "professional_id", ProfessionalListedV1,
                                "professional directory", ("access",))
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
RECORDS_COMMANDS = Topic("records.commands.v1", "patient_matricule", RecordsCommandV1, "gateway", ("records",))
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
                             ACTIVATION_COMMANDS, ACTIVATION_EVENTS, ACTIVATION_ACCOUNTS)


def all_topics() -> dict[str, int]:
    """Topic name -> partition count, dead-letter topics included (same partition count)."""
    names: dict[str, int] = {}
    for topic in TOPICS:
        names[topic.name] = topic.partitions
        names[topic.dlq] = topic.partitions
    return names


def topic_configs() -> dict[str, dict[str, str]]:
    """Topic name -> its configuration at creation, for the topics that have one (compacted topics)."""
    return {topic.name: topic.configs for topic in TOPICS if topic.configs}
