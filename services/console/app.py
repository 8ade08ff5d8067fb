"""The operations console: a live dashboard of the mesh (FastAPI, server-sent events, Plotly charts), for logged-in
operators only.

Per worker: health, messages processed and mean processing time (from its Prometheus metrics); consumer lag
per group and partition and dead-letter depth per topic (Kafka's admin API); the activation funnel, grants,
and notify's deliveries per channel (the services' databases). Dead letters: every operator sees where, when and
why; a replayer also reads a dead letter's payload (masked unless they ask otherwise) and replays it — each payload
view and replay audited with the authenticated operator (auth.py). Every write carries the session's CSRF token;
every response the security headers and the Host check of guard.py."""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, cast
from urllib.parse import parse_qs

import structlog
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from schemas.fields import Matricule
from schemas.topics import ACTIVATION_COMMANDS
from services.kit.bodylimit import BodyLimit
from services.kit.errors import TRANSIENT
from services.kit.kafka_auth import client_options
from services.kit.mongo import make_client
from services.kit.runtime import Clock, utc_now
from services.kit.settings import ServiceSettings

from . import pages
from .auth import NAME, Audit, LoginThrottle, NotLoggedIn, Operators, Session, Sessions
from .deadletters import DeadLetters, NotFound, payload
from .guard import Guard, allowed_hosts
from .probes import Probes

log = structlog.get_logger("dsp.console")
WRONG_LOGIN = "Wrong operator name or password."


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


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")  # an `operator` field is refused: the session says who acts
    topic: str = Field(max_length=200)
    partition: int = Field(ge=0, le=100_000)
    offset: int = Field(ge=0)


class Replay(_Body):
    pass


class HelpdeskBody(BaseModel):
    """A helpdesk command for activation: a new letter, or clearing an account's failure counts."""

    model_config = ConfigDict(extra="forbid")  # no `operator`: the session says who acts
    command: Literal["reissue-code", "unlock"] = Field(description="reissue-code | unlock")
    matricule: Matricule = Field(description="Whose account")


class PayloadView(_Body):
    unmasked: bool = Field(default=False, description="Show matricules and values (audited as such)")


def _errors(exc: ValidationError | RequestValidationError) -> list[dict[str, Any]]:
    found = exc.errors(include_input=False) if isinstance(exc, ValidationError) else exc.errors()
    return [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in found]  # never the input


def create_app(settings: ConsoleSettings, clock: Clock = utc_now) -> FastAPI:
    mongo = make_client(settings.mongo_uri, "console", settings.mongo_username, settings.mongo_password,
                        settings.mongo_auth_source)
    db = mongo[settings.mongo_db]
    workers = dict(pair.split("=", 1) for pair in settings.worker_urls.split(",") if "=" in pair)
    signer = settings.signer()  # helpdesk commands carry the authenticated operator; counters asked of each service
    probes = Probes(settings.kafka_bootstrap, signer, workers, settings.kafka_group_prefix,
                    kafka=client_options(settings))
    dead = DeadLetters(settings.kafka_bootstrap, kafka=client_options(settings))
    operators = Operators(db, clock)
    sessions, throttle, audit = Sessions(db, operators, clock), LoginThrottle(db, clock), Audit(db, clock)
    secure = settings.secure_cookies
    session_cookie = "__Host-dsp-console" if secure else "dsp-console"  # __Host-: Secure, Path=/, no Domain
    login_cookie = "__Host-dsp-console-login" if secure else "dsp-console-login"

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

    def set_cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(name, value, max_age=max_age, path="/", secure=secure, httponly=True, samesite="strict")

    def clear_cookie(response: Response, name: str) -> None:
        response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="strict")

    def login_page(status: int, message: str = "", retry_after: int | None = None) -> HTMLResponse:
        """The login form with a fresh double-submit token (cookie + hidden field): a form posted from another
        site carries neither (the cookie is SameSite=Strict)."""
        token = secrets.token_urlsafe(32)
        response = HTMLResponse(pages.render("login.html", csrf=token, message=message), status)
        set_cookie(response, login_cookie, token, max_age=3600)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    async def session_of(request: Request, touch: bool = True) -> Session:
        try:
            return await sessions.find(request.cookies.get(session_cookie), touch=touch)
        except NotLoggedIn as exc:
            raise HTTPException(401, exc.reason) from None

    async def writer(request: Request, role: str = "viewer", supplied: str | None = None) -> Session:
        """A write's checks, in this order: logged in (401), the session's CSRF token (403), the role (403)."""
        session = await session_of(request)
        if not session.csrf_matches(supplied if supplied is not None else request.headers.get("x-csrf-token")):
            raise HTTPException(403, "missing or wrong CSRF token; reload the page")
        if not session.operator.may(role):
            raise HTTPException(403, f"this needs the {role} role")
        return session

    async def json_body(request: Request, model: type[BaseModel]) -> Any:
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            raise HTTPException(415, "send application/json")
        try:
            return model.model_validate_json(await request.body())
        except ValidationError as exc:
            raise HTTPException(422, {"reason": "invalid request", "errors": _errors(exc)}) from None

    async def form(request: Request) -> dict[str, str]:
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != \
                "application/x-www-form-urlencoded":
            raise HTTPException(415, "send the login form")
        try:
            fields = parse_qs((await request.body()).decode(), max_num_fields=10, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            raise HTTPException(400, "unreadable form") from None
        return {k: v[0] for k, v in fields.items()}

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": "invalid request", "errors": _errors(exc)}, 422)

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

    @app.get("/login", include_in_schema=False)
    async def login_form(request: Request, ended: bool = False) -> Response:
        try:
            await sessions.find(request.cookies.get(session_cookie), touch=False)
            return RedirectResponse("/", 303)
        except NotLoggedIn:
            return login_page(200, "Your session has ended; log in again." if ended else "")

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        fields = await form(request)
        cookie, supplied = request.cookies.get(login_cookie, ""), fields.get("csrf", "")
        if not cookie or not hmac.compare_digest(cookie.encode(), supplied.encode()):
            logins.labels("csrf").inc()
            return login_page(403, "The login form had expired; please log in again.")
        name, password = fields.get("name", "").strip().lower()[:64], fields.get("password", "")
        throttled = bool(NAME.fullmatch(name))  # other names can be no operator's: not worth a stored counter
        async with throttle.turn(name):
            wait = await throttle.wait_s(name) if throttled else 0
            if wait:
                logins.labels("slowed").inc()
                return login_page(429, f"Too many failed attempts with this name; try again in {wait} s.", wait)
            operator, exists = await operators.verify(name, password)
            if operator is None:
                if throttled:
                    await throttle.failed(name)
                if exists:  # a typed name that is no operator's is never stored (it may be a mistyped password)
                    await audit.record("login-refused", name)
                logins.labels("refused").inc()
                return login_page(401, WRONG_LOGIN)
            await throttle.succeeded(name)
        token, _ = await sessions.open(operator)
        await audit.record("login", operator.name, role=operator.role)
        logins.labels("ok").inc()
        log.info("console operator logged in", operator=operator.name, role=operator.role)
        response = RedirectResponse("/", 303)
        set_cookie(response, session_cookie, token)
        clear_cookie(response, login_cookie)
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        fields = await form(request)
        try:
            session = await writer(request, supplied=fields.get("csrf", ""))
        except HTTPException as exc:
            if exc.status_code != 401:
                raise
            return RedirectResponse("/login", 303)  # not logged in: nothing to end
        await sessions.revoke(session)
        await audit.record("logout", session.operator.name)
        response = RedirectResponse("/login", 303)
        clear_cookie(response, session_cookie)
        return response

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page(request: Request) -> Response:
        try:
            session = await sessions.find(request.cookies.get(session_cookie))
        except NotLoggedIn:
            return RedirectResponse("/login", 303)
        return HTMLResponse(pages.render("index.html", operator=session.operator.name, role=session.operator.role,
                                         csrf=session.csrf, plotly_map_style_id=pages.plotly_map_style()[0]))

    @app.get("/static/plotly.min.js", include_in_schema=False)
    async def plotly() -> FileResponse:
        return FileResponse(pages.plotly_js(), media_type="text/javascript")

    @app.get("/static/plotly.css", include_in_schema=False)
    async def plotly_css() -> Response:
        return Response(pages.plotly_css(), media_type="text/css")

    @app.get("/static/plotly-map.css", include_in_schema=False)
    async def plotly_map_css() -> Response:
        return Response(pages.plotly_map_style()[1], media_type="text/css")

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> FileResponse:
        kinds = {"console.js": "text/javascript", "console.css": "text/css"}
        if name not in kinds:
            raise HTTPException(404, "no such file")
        return FileResponse(pages.STATIC / name, media_type=kinds[name])

    @app.get("/api/snapshot")
    async def snapshot(request: Request) -> dict[str, Any]:
        await session_of(request)
        return await probes.snapshot(datetime.now(UTC))

    @app.get("/api/stream")
    async def stream(request: Request) -> StreamingResponse:
        token = request.cookies.get(session_cookie)
        await session_of(request)

        async def events() -> AsyncIterator[str]:
            while True:
                try:  # every event re-checks the session (an open page is no activity: it does not slide it)
                    await sessions.find(token, touch=False)
                except NotLoggedIn as exc:
                    yield f"event: ended\ndata: {json.dumps({'reason': exc.reason})}\n\n"
                    return
                except Exception as exc:  # noqa: BLE001 - the page shows the error and keeps listening
                    yield f"event: problem\ndata: {json.dumps({'error': type(exc).__name__})}\n\n"
                else:
                    try:
                        data = await probes.snapshot(datetime.now(UTC))
                        yield f"event: snapshot\ndata: {json.dumps(data, default=str)}\n\n"
                    except Exception as exc:  # noqa: BLE001 - the page shows the error and keeps listening
                        yield f"event: problem\ndata: {json.dumps({'error': type(exc).__name__})}\n\n"
                await asyncio.sleep(settings.refresh_s)
        return StreamingResponse(events(), media_type="text/event-stream")

    @app.get("/api/me")
    async def me(request: Request) -> dict[str, str]:
        session = await session_of(request)
        return {"operator": session.operator.name, "role": session.operator.role}

    @app.get("/api/dlq")
    async def dlq(request: Request, topic: str = Query(max_length=200),
                  limit: int = Query(default=20, ge=1, le=200)) -> Any:
        await session_of(request)
        try:
            return await dead.newest(topic, limit)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None

    @app.post("/api/dlq/payload")
    async def show_payload(request: Request) -> dict[str, Any]:
        session = await writer(request, "replayer")
        body: PayloadView = await json_body(request, PayloadView)
        try:
            record = await dead.one(body.topic, body.partition, body.offset)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None
        await audit.record("payload-view", session.operator.name, role=session.operator.role, dlq=body.topic,
                           partition=body.partition, offset=body.offset, unmasked=body.unmasked)
        views.labels(str(not body.unmasked).lower()).inc()
        if body.unmasked:
            log.warning("dead-letter payload shown unmasked", operator=session.operator.name, dlq=body.topic,
                        partition=body.partition, offset=body.offset)
        return payload(record, masked=not body.unmasked)

    @app.post("/api/dlq/replay")
    async def replay(request: Request) -> dict[str, Any]:
        session = await writer(request, "replayer")
        body: Replay = await json_body(request, Replay)
        try:
            record = await dead.one(body.topic, body.partition, body.offset)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None
        entry = await audit.record("replay", session.operator.name, role=session.operator.role, dlq=body.topic,
                                   partition=body.partition, offset=body.offset, state="requested")
        done = await dead.replay(record, session.operator.name)
        await audit.complete(entry, state="done", source=done["source"],
                             replayed_to_partition=done["replayed_to_partition"],
                             replayed_to_offset=done["replayed_to_offset"])
        replays.inc()
        return {**done, "operator": session.operator.name, "audit_id": entry}

    @app.post("/api/helpdesk")
    async def helpdesk(request: Request) -> dict[str, Any]:
        """Sent to activation signed with the console's key, naming the operator this session authenticated."""
        session = await writer(request, "replayer")
        body: HelpdeskBody = await json_body(request, HelpdeskBody)
        command_id = f"helpdesk-{uuid.uuid4()}"
        entry = await audit.record(f"helpdesk-{body.command}", session.operator.name, role=session.operator.role,
                                   command_id=command_id)
        await dead.send(ACTIVATION_COMMANDS.name, body.matricule, {
            "command": body.command, "command_id": command_id, "matricule": body.matricule,
            "operator": session.operator.name,
            "operator_assertion": signer.assertion("activation", session.operator.name, cmd=command_id,
                                                   matricule=body.matricule)})
        return {"command_id": command_id, "operator": session.operator.name, "audit_id": entry}

    return app
