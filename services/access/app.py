"""access's bootstrap: settings -> runtime -> store, view, audit keys and checkpoints, audit log, service -> handlers,
APIs, sweeper -> app."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import ClassVar

from faststream.asgi import AsgiFastStream
from pydantic import Field

from schemas.access import AccessOutcomeV1, GrantExpiredV1
from schemas.audit import AuditHeadV1
from schemas.notify import NotificationRequestV1
from schemas.topics import (
    ACCESS_AUDIT_HEADS,
    ACCESS_CHANGES,
    ACCESS_COMMANDS,
    ACCESS_EVENTS,
    ACCESS_GRANT_EXPIRED,
    NOTIFY_REQUESTS,
)
from services.kit.kafka_auth import client_options
from services.kit.runtime import Clock, build_runtime, make_app, utc_now
from services.kit.settings import Secret, ServiceKey, ServiceSettings

from .agency import AgencyPresence
from .api import AccessApi
from .audit import AuditKeys
from .audit_api import AuditApi
from .checkpoints import CheckpointBook
from .directory_api import DirectoryApi
from .handlers import register
from .names import Names
from .presence_api import PresenceApi
from .reads import AccessReads
from .service import AccessService, Publishers
from .signing import AuditSigner
from .store import AccessStore
from .store.audit_log import AuditLog
from .sweeper import Sweeper
from .timing import Phases
from .tokens import RememberingVerifier
from .view import AccessView


class AccessSettings(ServiceSettings):
    service: ClassVar[str] = "access"
    http_port: int = Field(default=8103, validation_alias="DSP_ACCESS_HTTP_PORT",
                           description="Port of access's health/metrics endpoint and decision API")
    sweep_interval_s: float = Field(default=5.0, gt=0, validation_alias="DSP_ACCESS_SWEEP_INTERVAL_S",
                                    description="How often the sweeper ends due grants and the view catches up")
    audit_key: Secret = Field(validation_alias="DSP_ACCESS_AUDIT_KEY",
                              description="access's own audit key (a secret only access holds): each audit entry's "
                                          "HMAC, and the patients' pseudonyms on the checkpoint topic")
    audit_signing_key: ServiceKey = Field(validation_alias="DSP_ACCESS_AUDIT_SIGNING_KEY",
                                          description="access's Ed25519 audit signing key (base64 seed, a secret): "
                                                      "signs each chain's checkpoint and a patient's exported trail; "
                                                      "its public key is published (a JWKS)")
    audit_checkpoint_interval_s: float = Field(default=0.5, gt=0, le=10,
                                               validation_alias="DSP_ACCESS_AUDIT_CHECKPOINT_INTERVAL_S",
                                               description="How often the chains' new heads are checkpointed")


def create_app(settings: AccessSettings, clock: Clock = utc_now) -> AsgiFastStream:
    rt = build_runtime(settings, clock)
    store, broker = AccessStore(rt.db), rt.broker
    keys = AuditKeys.derive(settings.audit_key.get_secret_value().encode())
    signer = AuditSigner(settings.audit_signing_key.get_secret_value())
    # described for the AsyncAPI document; the book sends through its own aiokafka producer (checkpoints.py)
    broker.publisher(ACCESS_AUDIT_HEADS.name, schema=AuditHeadV1, title="access.audit-heads",
                     description="access's signed checkpoint of each audit chain's head (key: a pseudonym of the "
                                 "patient), every replica reads them all")
    book = CheckpointBook(keys, signer, client_options(settings), clock, settings.audit_checkpoint_interval_s)
    view, audit_log = AccessView(store), AuditLog(store.audit, keys, book)
    out = Publishers(
        outcome=broker.publisher(ACCESS_EVENTS.name, schema=AccessOutcomeV1, title="access.outcomes",
                                 description="One outcome per access command").publish,
        changed=broker.publisher(ACCESS_CHANGES.name, title="access.changes", include_in_schema=False).publish,
        notify=broker.publisher(NOTIFY_REQUESTS.name, schema=NotificationRequestV1, title="access.notify",
                                description="Notices to patients: first access, presence password used, "
                                            "emergency access, grant expired, assistant added; presence "
                                            "passwords (sealed), e.g. the agency's letter on activation").publish,
        expired=broker.publisher(ACCESS_GRANT_EXPIRED.name, schema=GrantExpiredV1, title="access.grant-expired",
                                 description="A time-limited grant ended").publish,
        command=broker.publisher(ACCESS_COMMANDS.name, title="access.internal-commands",
                                 description="Grant ends and document visibility, applied on the patient's partition"
                                 ).publish,
    )
    service = AccessService(store, view, audit_log, out, clock)
    sweeper = Sweeper(store, view, out.command, clock)
    register(rt, service, AgencyPresence(service, clock, settings.notify_public_key))
    door = settings.door()
    if door.verifier is not None:
        door = replace(door, verifier=RememberingVerifier(door.verifier))
    stop, tasks = asyncio.Event(), []

    async def start_background() -> None:
        book.seal(audit_log.adopted)  # the chains from before the key, once: checkpointed, then the marker
        tasks.append(asyncio.create_task(sweeper.run(settings.sweep_interval_s, stop)))
        tasks.append(asyncio.create_task(book.run(stop)))

    async def stop_background() -> None:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)

    names = Names(store, view)
    return make_app(rt, on_startup=[store.ensure_indexes, view.load, book.load, audit_log.load_heads],
                    routes=[*AccessApi(service, clock, Phases(rt.registry)).routes(door),
                            *AccessReads(service, names, clock).routes(door),
                            *AuditApi(service, names, book, signer, clock).routes(door),
                            *DirectoryApi(service, clock).routes(door),
                            *PresenceApi(service, clock, settings.notify_public_key).routes(door)],
                    after_startup=[start_background],
                    on_shutdown=[stop_background])
