"""The gateway (issue 6, first slice): the patient portal's HTTP API — activation, login, documents, access.

Commands go to Kafka and the gateway waits for their outcome (a refusal is a 4xx with the reason); reads come
from the services' internal HTTP APIs, each the only door to its own data (activation's sessions and captcha,
access's decisions, state, audit trail and directory, records' documents, notify's notifications), called with a
service token. The gateway's own database holds only its own data (rate limits, professional sessions, each
person's portal preferences). A dependency that does not answer in time is a 503, never a hang. Every route has a
response model, every error is an RFC 9457 problem (`problems.py`), both in the OpenAPI document.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import httpx
from fastapi import FastAPI, Request, Response
from limits import RateLimitItemPerMinute
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from pydantic import Field, SecretStr, field_validator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.topics import ACCESS_EVENTS
from services.kit.bodylimit import BodyLimit
from services.kit.kafka_auth import client_options
from services.kit.mongo import make_client
from services.kit.runtime import Clock, utc_now
from services.kit.servicetokens import ServiceAuth
from services.kit.settings import ServiceSettings

from . import api_docs, context, problems
from .bus import Bus
from .fhir import routes as fhir_routes
from .fhir.ids import PatientIds
from .limits import EdgeLimiter, FhirLimits, parse_proxies
from .routes import (
    access,
    account,
    assistants,
    audit,
    directory,
    documents,
    export,
    notices,
    preferences,
    pro_documents,
    professional,
)
from .store.fhir import FhirStore, load_clients
from .store.preferences import PreferenceStore
from .store.sessions import ProStore
from .web import app as portal

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'", "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin", "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


UPLOAD_BODY = [("POST", "/v1/me/documents", 8 * 1024 * 1024)]  # base64 JSON of a file up to uploads.MAX_BYTES
UPLOAD_BODY.append(("POST", "/documents/upload", 6 * 1024 * 1024))  # the portal page's multipart form, same file


class GatewaySettings(ServiceSettings):
    service: ClassVar[str] = "gateway"
    http_port: int = Field(default=8100, validation_alias="DSP_GATEWAY_HTTP_PORT", description="The portal API's port")
    activation_url: str = Field(default="http://127.0.0.1:8102", validation_alias="DSP_GATEWAY_ACTIVATION_URL",
                                description="activation's HTTP API")
    access_url: str = Field(default="http://127.0.0.1:8103", validation_alias="DSP_GATEWAY_ACCESS_URL",
                            description="access's HTTP API")
    records_url: str = Field(default="http://127.0.0.1:8101", validation_alias="DSP_GATEWAY_RECORDS_URL",
                             description="records' HTTP API (documents, detail, file, timeline, command status)")
    notify_url: str = Field(default="http://127.0.0.1:8104", validation_alias="DSP_GATEWAY_NOTIFY_URL",
                            description="notify's HTTP API (the notification list, marking notices read)")
    reply_timeout_s: float = Field(default=10.0, gt=0, validation_alias="DSP_GATEWAY_REPLY_TIMEOUT_S",
                                   description="How long a request waits for a command's outcome")
    pro_idp_key: SecretStr | None = Field(default=None, validation_alias="DSP_GATEWAY_PRO_IDP_KEY",
                                          description="Key shared with the professional identity provider; "
                                                      "unset: professional login is off")
    rate_limit_per_minute: int = Field(default=30, ge=1, validation_alias="DSP_GATEWAY_RATE_LIMIT_PER_MINUTE",
                                       description="Login, one-time-code and presence-password calls per client "
                                                   "and endpoint; challenges (captcha and ALTCHA) per client")
    session_rate_limit_per_minute: int = Field(default=120, ge=1,
                                               validation_alias="DSP_GATEWAY_SESSION_RATE_LIMIT_PER_MINUTE",
                                               description="Requests per session under /v1/me/ and /v1/pro/ "
                                                           "(reads and searches)")
    fhir_rate_limit_per_minute: int = Field(
        default=600, ge=1, validation_alias="DSP_GATEWAY_FHIR_RATE_LIMIT_PER_MINUTE",
        description="FHIR API reads a minute per caller: a bearer token's client (or the identity provider) and the "
                    "professional it acts for, counted in each replica's memory")
    fhir_token_rate_limit_per_minute: int = Field(
        default=30, ge=1, validation_alias="DSP_GATEWAY_FHIR_TOKEN_RATE_LIMIT_PER_MINUTE",
        description="Token requests at /fhir/r4/auth/token a minute per client address, shared by every replica")
    trusted_proxies: str = Field(default="", validation_alias="DSP_GATEWAY_TRUSTED_PROXIES",
                                 description="Comma-separated addresses or networks of the reverse proxies whose "
                                             "X-Forwarded-For is believed; empty: the TCP peer is the client")

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        parse_proxies(value)  # a ValueError names the bad entry
        return value
    portal_key: SecretStr | None = Field(default=None, validation_alias="DSP_GATEWAY_PORTAL_KEY",
                                         description="Seals the web portal's 'DSP acted on' cookie (32+ characters; "
                                                     "the same on every gateway replica); unset: a key per process")
    api_docs: bool = Field(default=True, validation_alias="DSP_GATEWAY_API_DOCS",
                           description="Serve the interactive API page at /docs (Swagger UI from the gateway's own "
                                       "files, under a CSP); false in production: /openapi.json stays")
    fhir_clients_file: str | None = Field(default=None, validation_alias="DSP_GATEWAY_FHIR_CLIENTS_FILE",
                                          description="JSON file of the SMART Backend Services clients registered "
                                                      "at the FHIR API (client_id, jwks, professionals, scopes); "
                                                      "unset: none (the identity provider's assertion still works)")
    fhir_base_url: str | None = Field(default=None, validation_alias="DSP_GATEWAY_FHIR_BASE_URL",
                                      description="The FHIR API's public URL (e.g. https://dsp.example.lu/fhir/r4), "
                                                  "in links and as the token endpoint's audience; unset: from the "
                                                  "request's Host")
    secure_cookies: bool = Field(default=True, validation_alias="DSP_GATEWAY_SECURE_COOKIES",
                                 description="Mark cookies Secure and send HSTS (behind TLS); false only for a "
                                             "portal served locally over plain HTTP")


STS = b"strict-transport-security"


class Edge:
    """ASGI middleware (plain, not starlette's BaseHTTPMiddleware, which ran each request — a page's in-process
    API calls too — through a task group and memory streams): the rate limits before a route runs (`limits`),
    then the security headers on every answer (a portal page's own CSP and cache rule stay), HSTS behind TLS, and
    the answered-requests counter by route and status class."""

    def __init__(self, app: ASGIApp, limiter: EdgeLimiter, requests: Counter, hsts: bool) -> None:
        self.app, self.limiter, self.requests, self.hsts = app, limiter, requests, hsts
        self.headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        if hsts:  # always ours
            self.headers.append((STS, b"max-age=31536000; includeSubDomains"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def headed(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if not (self.hsts and k.lower() == STS)]
                present = {k.lower() for k, _ in headers}
                message = {**message, "headers": headers + [(k, v) for k, v in self.headers if k not in present]}
                route = scope.get("route")
                self.requests.labels(getattr(route, "path", "unmatched"), f"{message['status'] // 100}xx").inc()
            await send(message)

        refused = await self.limiter.refusal(Request(scope))
        await (refused or self.app)(scope, receive, headed)


def create_app(settings: GatewaySettings, clock: Clock = utc_now) -> FastAPI:
    bus = Bus(settings.kafka_bootstrap, (ACCESS_EVENTS.name,), settings.reply_timeout_s, client_options(settings))
    mongo = make_client(settings.mongo_uri, "gateway", settings.mongo_username, settings.mongo_password,
                        settings.mongo_auth_source)
    signer = settings.signer()  # the gateway proves who it is to each service it calls

    def client(url: str, audience: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=url, timeout=5, auth=ServiceAuth(signer, audience))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await bus.start()
        async with client(settings.activation_url, "activation") as activation, \
                client(settings.access_url, "access") as access_api, \
                client(settings.records_url, "records") as records_api, \
                client(settings.notify_url, "notify") as notify:
            app.state.ctx = context.Context(
                bus, activation, access_api, records_api, notify, settings.secure_cookies,
                context.RefusalLimit(limiter.strategy, RateLimitItemPerMinute(20, 10, namespace="act-for-refused")),
                context.RefusalLimit(limiter.strategy, RateLimitItemPerMinute(30, 10, namespace="person-lookup")))
            yield
        await bus.stop()
        await mongo.close()

    registry = CollectorRegistry()
    requests = Counter("dsp_gateway_requests", "Requests answered, by route and status class", ["route", "status"],
                       registry=registry)
    app = FastAPI(title="dsp-mesh portal API", version="1.0.0", lifespan=lifespan,
                  description="The patient portal's API of the shared health record (DSP).",
                  docs_url=None, redoc_url=None)  # `/docs` from our own files, under a CSP (api_docs.py)
    # the FHIR R4 door first: a search at /fhir/r4 is matched before the ~55 portal API patterns are tried (no other
    # route starts with /fhir/r4; its own routes are out of the OpenAPI document, whose order stays the portal's)
    app.include_router(fhir_routes.router)
    app.include_router(account.router)
    app.include_router(access.router)  # the order of the OpenAPI document's paths
    app.include_router(audit.router)
    app.include_router(assistants.router)
    app.include_router(audit.public_router)
    app.include_router(professional.router)
    app.include_router(pro_documents.router)
    app.include_router(documents.router)
    app.include_router(notices.router)
    app.include_router(directory.router)
    app.include_router(preferences.router)
    app.include_router(export.router)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    key = settings.pro_idp_key.get_secret_value().encode() if settings.pro_idp_key else None
    app.state.pro_idp_key, app.state.clock = key, clock
    app.state.pro_sessions = ProStore(mongo[settings.mongo_db], clock)  # professionals' assertions, sessions
    app.state.preferences = PreferenceStore(mongo[settings.mongo_db], clock)  # each person's portal language
    limiter = EdgeLimiter(mongo[settings.mongo_db]["rate_limits"], settings.rate_limit_per_minute,
                          settings.session_rate_limit_per_minute, parse_proxies(settings.trusted_proxies))
    fhir_key = settings.portal_key.get_secret_value().encode() if settings.portal_key else secrets.token_bytes(32)
    app.state.fhir = fhir_routes.FhirDoor(PatientIds(fhir_key), FhirStore(mongo[settings.mongo_db], clock),
                                          load_clients(settings.fhir_clients_file),
                                          settings.fhir_base_url.rstrip("/") if settings.fhir_base_url else None,
                                          clock(), FhirLimits(limiter.strategy,
                                                              settings.fhir_token_rate_limit_per_minute,
                                                              settings.fhir_rate_limit_per_minute))
    app.add_middleware(problems.TrustedHosts, allowed_hosts=sorted(settings.hosts))  # no DNS rebinding
    app.add_middleware(BodyLimit, rules=UPLOAD_BODY)  # inside security_headers: a 413 gets the headers too

    app.add_middleware(Edge, limiter=limiter, requests=requests, hsts=settings.secure_cookies)

    app.add_middleware(context.OneSessionCheck)  # outermost: a page's in-process API calls share its check
    problems.install(app)
    if settings.api_docs:
        api_docs.install(app)
    portal.install(app, settings.secure_cookies, settings.portal_key.get_secret_value().encode()
                   if settings.portal_key else None)  # the web pages at the root, over this API

    @app.get("/health/live", include_in_schema=False)
    async def live() -> dict[str, Any]:
        return {"status": "live"}

    @app.get("/health/ready", include_in_schema=False)
    async def ready() -> Response:
        if bus.ready():
            return Response(b'{"status":"ready"}', media_type="application/json")
        return problems.answer(503, "not ready: the outcome reader is not running")

    return app
