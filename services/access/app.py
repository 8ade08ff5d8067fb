"""access's bootstrap: settings -> runtime -> store, view, audit keys and checkpoints, audit log -> the use cases
(`use_cases`, one place: tests build them over the in-memory fakes) -> Kafka handlers, HTTP routes, the sweeper
and the checkpoint book in the background -> ASGI app."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar

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
from services.kit.http import Door
from services.kit.kafka_auth import client_options
from services.kit.runtime import Clock, build_runtime, make_app, utc_now
from services.kit.settings import Secret, ServiceKey, ServiceSettings

from .api import audit as audit_api
from .api import decisions as decisions_api
from .api import directory as directory_api
from .api import presence as presence_api
from .api import reads as reads_api
from .api.timing import Phases
from .domain.audit import AuditKeys
from .domain.signing import AuditSigner
from .handlers import register
from .service.apply import ApplyCommands
from .service.arrivals import PERSON_WAIT_S, PersonArrivals
from .service.audit_export import AuditExport
from .service.checkpoints import CheckpointBook
from .service.decide import Decide, FirstAccess
from .service.directory import Directory
from .service.effects import Notices, Publishers
from .service.names import Names
from .service.presence import PresencePasswords
from .service.reads import AccessReads
from .service.registry import Registry
from .service.stats import Stats
from .service.sweeper import Sweeper
from .service.view import AccessView
from .store import AccessStore, AuditTrail, Checkpoints, Store
from .store.audit_log import AuditLog, CommitTiming


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
    person_wait_s: float = Field(default=PERSON_WAIT_S, ge=0, le=10, validation_alias="DSP_ACCESS_PERSON_WAIT_S",
                                 description="How long a command about a person access has not read from the "
                                             "registry yet is held for her before it is refused (unknown patient)")
    audit_checkpoint_interval_s: float = Field(default=0.5, gt=0, le=10,
                                               validation_alias="DSP_ACCESS_AUDIT_CHECKPOINT_INTERVAL_S",
                                               description="How often the chains' new heads are checkpointed")


@dataclass(frozen=True)
class UseCases:
    """Every use case of access, built once over the store, the view and the audit trail (`use_cases`): the app
    wires them to its handlers and routes; tests build them over the in-memory fakes."""

    commands: ApplyCommands
    decide: Decide
    first_access: FirstAccess
    presence: PresencePasswords
    registry: Registry
    reads: AccessReads
    directory: Directory
    audit_export: AuditExport
    stats: Stats
    sweeper: Sweeper


def use_cases(store: Store, view: AccessView, audit: AuditTrail, checkpoints: Checkpoints, signer: AuditSigner,
              out: Publishers, clock: Clock, notify_key: str | None, person_wait_s: float = PERSON_WAIT_S) -> UseCases:
    notices, names = Notices(out.notify), Names(store, view)
    arrivals = PersonArrivals(store, person_wait_s)
    first_access = FirstAccess(store, view, notices, clock)
    return UseCases(
        commands=ApplyCommands(store, view, audit, out, notices, arrivals, clock),
        decide=Decide(view, audit, first_access, clock),
        first_access=first_access,
        presence=PresencePasswords(store, view, audit, notices, out.command, clock, notify_key),
        registry=Registry(store, view, arrivals, clock),
        reads=AccessReads(store, view, audit, names, clock),
        directory=Directory(store, view, clock),
        audit_export=AuditExport(view, audit, names, checkpoints, signer, clock),
        stats=Stats(store, clock),
        sweeper=Sweeper(store, view, out.command, clock),
    )


def routes(door: Door, uc: UseCases, phases: Phases | None = None) -> list[tuple[str, Any]]:
    """Every route behind the door: the gateway's (the console's counters apart)."""
    return [*decisions_api.routes(door, uc.decide, uc.stats, phases), *reads_api.routes(door, uc.reads),
            *audit_api.routes(door, uc.audit_export), *directory_api.routes(door, uc.directory),
            *presence_api.routes(door, uc.presence)]


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
    view, audit_log = AccessView(store), AuditLog(store.audit, keys, book, timing=CommitTiming(rt.registry))
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
    uc = use_cases(store, view, audit_log, book, signer, out, clock, settings.notify_public_key,
                   settings.person_wait_s)
    register(rt, uc.registry, uc.commands, uc.presence, view)
    door = settings.door()  # its verifier remembers a checked service token (kit.servicetokens)
    stop, tasks = asyncio.Event(), []

    async def start_background() -> None:
        book.seal(audit_log.adopted)  # the chains from before the key, once: checkpointed, then the marker
        tasks.append(asyncio.create_task(uc.sweeper.run(settings.sweep_interval_s, stop)))
        tasks.append(asyncio.create_task(book.run(stop)))

    async def stop_background() -> None:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:  # the first accesses gathered in the last quarter second: told before the end (Kafka permitting)
            await asyncio.wait_for(uc.first_access.settled(), timeout=10)
        except TimeoutError:
            pass

    async def load_view() -> None:
        await view.load(clock())

    return make_app(rt, on_startup=[store.ensure_indexes, load_view, book.load, audit_log.load_heads],
                    routes=routes(door, uc, Phases(rt.registry)),
                    after_startup=[start_background],
                    on_shutdown=[stop_background])
