"""access's bootstrap: settings -> runtime -> store, view, audit log, service -> handlers, APIs, sweeper -> app."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import ClassVar

from faststream.asgi import AsgiFastStream
from pydantic import Field

from schemas.access import AccessOutcomeV1, GrantExpiredV1
from schemas.notify import NotificationRequestV1
from schemas.topics import ACCESS_CHANGES, ACCESS_COMMANDS, ACCESS_EVENTS, ACCESS_GRANT_EXPIRED, NOTIFY_REQUESTS
from services.kit.runtime import Clock, build_runtime, make_app, utc_now
from services.kit.settings import ServiceSettings

from .agency import AgencyPresence
from .api import AccessApi
from .directory_api import DirectoryApi
from .handlers import register
from .names import Names
from .presence_api import PresenceApi
from .reads import AccessReads
from .service import AccessService, Publishers
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


def create_app(settings: AccessSettings, clock: Clock = utc_now) -> AsgiFastStream:
    rt = build_runtime(settings, clock)
    store = AccessStore(rt.db)
    view, audit_log = AccessView(store), AuditLog(store.audit)
    broker = rt.broker
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

    async def start_sweeper() -> None:
        tasks.append(asyncio.create_task(sweeper.run(settings.sweep_interval_s, stop)))

    async def stop_sweeper() -> None:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)

    return make_app(rt, on_startup=[store.ensure_indexes, view.load, audit_log.load_heads],
                    routes=[*AccessApi(service, clock, Phases(rt.registry)).routes(door),
                            *AccessReads(service, Names(store, view), clock).routes(door),
                            *DirectoryApi(service, clock).routes(door),
                            *PresenceApi(service, clock, settings.notify_public_key).routes(door)],
                    after_startup=[start_sweeper],
                    on_shutdown=[stop_sweeper])
