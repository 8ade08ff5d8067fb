"""One bootstrap for every worker: builds the runtime, the ASGI app (health, readiness, metrics), and runs it."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
import uvicorn
from aiokafka.admin import AIOKafkaAdminClient
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry, make_asgi_app
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from . import logging as kit_logging
from .bodylimit import BodyLimit
from .broker import make_broker
from .deadletter import DeadLetters
from .errors import TRANSIENT
from .http import hosts_only
from .kafka_auth import client_options
from .mongo import make_client
from .settings import ServiceSettings

log = structlog.get_logger("dsp.runtime")
Clock = Callable[[], datetime]
_server: uvicorn.Server | None = None  # set by serve(): a stop signal must also end a start-up wait


class StartupAborted(RuntimeError):
    """The worker was asked to stop while it was still waiting for a dependency."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: ServiceSettings
    broker: KafkaBroker
    mongo: AsyncMongoClient[dict[str, Any]]
    db: AsyncDatabase[dict[str, Any]]
    registry: CollectorRegistry
    dead_letters: DeadLetters
    pseudonym: kit_logging.Pseudonymizer
    clock: Clock = utc_now


def build_runtime(settings: ServiceSettings, clock: Clock = utc_now) -> Runtime:
    registry = CollectorRegistry()
    dead_letters = DeadLetters(settings.service, settings.group_id, settings.kafka_bootstrap, registry,
                               settings.max_attempts, settings.retry_backoff_max_s, kafka=client_options(settings))
    mongo = make_client(settings.mongo_uri, settings.service, settings.mongo_username, settings.mongo_password,
                        settings.mongo_auth_source)
    return Runtime(
        settings=settings, broker=make_broker(settings, registry, dead_letters), mongo=mongo,
        db=mongo[settings.mongo_db], registry=registry, dead_letters=dead_letters,
        pseudonym=kit_logging.Pseudonymizer(settings.log_pseudonym_key.get_secret_value().encode()),
        clock=clock,
    )


async def wait_for(name: str, probe: Callable[[], Awaitable[Any]], cap_s: float) -> None:
    """Retry `probe` with capped exponential backoff, saying so in one clear log line (then once a minute)."""
    start, attempt, logged = time.monotonic(), 0, -1e9
    while True:
        try:
            await probe()
            if attempt:
                log.info("dependency reachable", dependency=name, waited_s=round(time.monotonic() - start, 1))
            return
        except TRANSIENT as exc:
            delay = min(0.5 * 2 ** min(attempt, 10), cap_s)
            if time.monotonic() - logged >= 60:
                logged = time.monotonic()
                log.warning("dependency unreachable at start-up; retrying with backoff", dependency=name,
                            error=type(exc).__name__, retry_in_s=delay)
            attempt += 1
            for _ in range(int(delay / 0.1)):
                if _server is not None and _server.should_exit:
                    raise StartupAborted(f"stopped while waiting for {name}") from None
                await asyncio.sleep(0.1)


async def _tcp_probe(hostports: str) -> None:
    """Raise ConnectionError unless one of the `host:port` addresses accepts a TCP connection."""
    for hostport in hostports.split(","):
        host, _, port = hostport.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host.strip("[]"), int(port)), 3)
        except (OSError, TimeoutError):
            continue
        writer.close()
        return
    raise ConnectionError(f"no Kafka bootstrap server reachable at {hostports}")


async def _kafka_probe(bootstrap: str, options: dict[str, Any] | None = None) -> None:
    await _tcp_probe(bootstrap)  # quiet: aiokafka would log an error line per failed attempt
    admin = AIOKafkaAdminClient(**{**(options or {}), "bootstrap_servers": bootstrap}, request_timeout_ms=5000)
    try:
        await admin.start()
        await admin.list_topics()
    finally:
        await admin.close()


def make_app(rt: Runtime, on_startup: Sequence[Callable[[], Awaitable[Any]]] = (),
             routes: Sequence[tuple[str, Any]] = (),
             after_startup: Sequence[Callable[[], Awaitable[Any]]] = (),
             on_shutdown: Sequence[Callable[[], Awaitable[Any]]] = ()) -> AsgiFastStream:
    """`on_startup` hooks run once Kafka and MongoDB answer, before consuming; `after_startup` once consuming."""
    @get(include_in_schema=False)
    async def live(scope: Any) -> AsgiResponse:
        return AsgiResponse(b'{"status":"live"}', 200, headers={"content-type": "application/json"})

    @get(include_in_schema=False)
    async def ready(scope: Any) -> AsgiResponse:
        checks = {"kafka": await rt.broker.ping(timeout=2.0), "mongo": await _mongo_ok(rt)}
        body = ('{"status":"%s","kafka":%s,"mongo":%s}' % (  # noqa: UP031 - tiny fixed JSON
            "ready" if all(checks.values()) else "not-ready",
            str(checks["kafka"]).lower(), str(checks["mongo"]).lower())).encode()
        return AsgiResponse(body, 200 if all(checks.values()) else 503, headers={"content-type": "application/json"})

    async def start_dependencies() -> None:
        cap = rt.settings.retry_backoff_max_s
        await wait_for("kafka", lambda: _kafka_probe(rt.settings.kafka_bootstrap, client_options(rt.settings)), cap)
        await wait_for("mongo", lambda: rt.mongo.admin.command("ping"), cap)
        await rt.dead_letters.start()
        for hook in on_startup:
            await hook()
        settle_heap()
        log.info("worker starting", kafka=rt.settings.kafka_bootstrap, database=rt.settings.mongo_db)

    async def stop_dependencies() -> None:
        await rt.dead_letters.stop()
        await rt.mongo.close()

    return AsgiFastStream(
        rt.broker,
        asgi_routes=[("/health/live", live), ("/health/ready", ready), ("/metrics", make_asgi_app(rt.registry)),
                     *routes],
        on_startup=[start_dependencies],
        after_startup=list(after_startup),
        on_shutdown=list(on_shutdown),
        after_shutdown=[stop_dependencies],
        asyncapi_path="/asyncapi",
        logger=logging.getLogger(f"dsp.{rt.settings.service}.app"),
    )


def settle_heap() -> None:
    """What start-up loaded (access's view of every grant, its audit chains' heads) lives as long as the worker:
    moved out of the garbage collector's reach, so its full collections stop walking it (with 200,000 grants
    each one stalled the event loop — and every request waiting on it)."""
    gc.collect()
    gc.freeze()


async def _mongo_ok(rt: Runtime) -> bool:
    try:
        await rt.mongo.admin.command("ping")
    except TRANSIENT:
        return False
    return True


def serve(app: AsgiFastStream, settings: ServiceSettings, port: int) -> None:
    """Run the worker under uvicorn: SIGTERM/Ctrl-C stop consuming, finish the message in hand, close.
    Every request body is capped (64 KiB, a 413 before the app reads it); no proxy headers are trusted."""
    global _server
    guarded = hosts_only(BodyLimit(app), settings.hosts)
    _server = uvicorn.Server(uvicorn.Config(guarded, host=settings.http_host, port=port, log_config=None,
                                            lifespan="on", timeout_graceful_shutdown=20, proxy_headers=False))
    _server.run()
