"""The operations console: a live dashboard of the mesh (FastAPI, server-sent events, Plotly charts), for logged-in
operators only — its settings and wiring. The routes are `web/`: the pages and logins `sign_in.py`, the JSON API
`operations.py`, what they share (cookies, the session and CSRF checks, bodies) `common.py`; the use cases
`service/` (operators, sessions, the login slow-down, the audit trail, dead letters, probes) over `store/` (the
console's own database) and the rules of `domain/` (operators and sessions, the slow-down, payload masking).

Per worker: health, messages processed and mean processing time (from its Prometheus metrics); consumer lag
per group and partition and dead-letter depth per topic (Kafka's admin API); the activation funnel, grants,
and notify's deliveries per channel (asked of each service). Dead letters: every operator sees where, when and
why; a replayer also reads a dead letter's payload (masked unless they ask otherwise) and replays it — each payload
view and replay audited with the authenticated operator (service/audit.py). Every write carries the session's CSRF
token; every response the security headers and the Host check of web/guard.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import ClassVar, cast

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from pydantic import Field, ValidationInfo, field_validator

from services.kit.bodylimit import BodyLimit
from services.kit.errors import TRANSIENT
from services.kit.kafka_auth import client_options
from services.kit.mongo import make_client
from services.kit.runtime import Clock, utc_now
from services.kit.settings import ServiceSettings

from .service.audit import Audit
from .service.deadletters import DeadLetters
from .service.operators import Operators
from .service.probes import Probes
from .service.sessions import Sessions
from .service.throttle import LoginThrottle
from .store.mongo import ConsoleStore
from .web.common import Web, errors
from .web.guard import Guard, allowed_hosts
from .web.operations import operations_routes
from .web.sign_in import sign_in_routes

log = structlog.get_logger("dsp.console")


class ConsoleSettings(ServiceSettings):
    service: ClassVar[str] = "console"
    http_port: int = Field(default=8105, validation_alias="DSP_CONSOLE_HTTP_PORT", description="The console's port")
    worker_urls: str = Field(
        default="records=http://127.0.0.1:8101,activation=http://127.0.0.1:8102,access=http://127.0.0.1:8103,"
                "notify=http://127.0.0.1:8104", validation_alias="DSP_CONSOLE_WORKER_URLS",
        description="name=url pairs of the workers to watch")
    refresh_s: float = Field(default=2.0, gt=0, validation_alias="DSP_CONSOLE_REFRESH_S",
                             description="How often the page is updated")
    allowed_hosts: str = Field(default="127.0.0.1,localhost", validation_alias="DSP_CONSOLE_ALLOWED_HOSTS",
                               description="Host header values the console answers (host or host:port, comma-"
                                           "separated; a bare host also with the console's port); others get 400")
    secure_cookies: bool = Field(default=True, validation_alias="DSP_CONSOLE_SECURE_COOKIES",
                                 description="Secure, __Host- cookies and HSTS (behind TLS); false only for a "
                                             "console served over plain HTTP on loopback")

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: str, info: ValidationInfo) -> str:
        allowed_hosts(value, info.data.get("http_port", 8105))  # a ValueError names the bad entry
        return value


def create_app(settings: ConsoleSettings, clock: Clock = utc_now) -> FastAPI:
    mongo = make_client(settings.mongo_uri, "console", settings.mongo_username, settings.mongo_password,
                        settings.mongo_auth_source)
    store = ConsoleStore(mongo[settings.mongo_db])
    workers = dict(pair.split("=", 1) for pair in settings.worker_urls.split(",") if "=" in pair)
    signer = settings.signer()  # helpdesk commands carry the authenticated operator; counters asked of each service
    probes = Probes(settings.kafka_bootstrap, signer, workers, settings.kafka_group_prefix,
                    kafka=client_options(settings))
    dead = DeadLetters(settings.kafka_bootstrap, kafka=client_options(settings))
    operators = Operators(store, clock)
    sessions, throttle, audit = Sessions(store, operators, clock), LoginThrottle(store, clock), Audit(store, clock)
    secure = settings.secure_cookies

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await probes.start()
        await dead.start()
        yield
        await dead.stop()
        await probes.stop()
        await mongo.close()

    app = FastAPI(title="dsp-mesh operations console", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.add_middleware(BodyLimit)  # 64 KiB: a 413 before any body is parsed
    app.add_middleware(Guard, hosts=allowed_hosts(settings.allowed_hosts, settings.http_port), hsts=secure)
    registry = CollectorRegistry()
    replays = Counter("dsp_console_replays", "Dead letters replayed from the console", registry=registry)
    views = Counter("dsp_console_payload_views", "Dead-letter payloads shown, masked or not", ["masked"],
                    registry=registry)
    logins = Counter("dsp_console_logins", "Login attempts by outcome", ["outcome"], registry=registry)
    web = Web(sessions, secure)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": "invalid request", "errors": errors(exc)}, 422)

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("dependency unreachable; answered 503", error=type(exc).__name__)
        return JSONResponse({"detail": "a dependency did not answer; try again"}, 503)

    for transient in TRANSIENT:  # all of them are Exceptions
        app.add_exception_handler(cast(type[Exception], transient), unavailable)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/health/live", include_in_schema=False)
    async def live() -> dict[str, str]:
        return {"status": "live"}

    @app.get("/health/ready", include_in_schema=False)
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    app.include_router(sign_in_routes(web, operators, throttle, audit, logins))
    app.include_router(operations_routes(web, probes, dead, audit, signer, {"replays": replays, "views": views},
                                         settings.refresh_s))
    return app
