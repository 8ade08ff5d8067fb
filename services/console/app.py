"""The operations console: a live dashboard of the mesh (FastAPI, server-sent events, Plotly charts).

Per worker: health, messages processed and mean processing time (from its Prometheus metrics); consumer lag
per group and partition and dead-letter depth per topic (Kafka's admin API); the activation funnel, grants,
and notify's deliveries per channel (the services' databases). Dead letters can be inspected and replayed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from pydantic import BaseModel, ConfigDict, Field

from services.kit.mongo import make_client
from services.kit.settings import ServiceSettings

from .deadletters import DeadLetters, NotFound
from .probes import Probes

STATIC = Path(__file__).parent / "static"


class ConsoleSettings(ServiceSettings):
    service: ClassVar[str] = "console"
    http_port: int = Field(default=8105, validation_alias="DSP_CONSOLE_HTTP_PORT", description="The console's port")
    worker_urls: str = Field(
        default="records=http://127.0.0.1:8101,activation=http://127.0.0.1:8102,access=http://127.0.0.1:8103,"
                "notify=http://127.0.0.1:8104", validation_alias="DSP_CONSOLE_WORKER_URLS",
        description="name=url pairs of the workers to watch")
    refresh_s: float = Field(default=2.0, gt=0, validation_alias="DSP_CONSOLE_REFRESH_S",
                             description="How often the page is updated")


class Replay(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topic: str = Field(max_length=200)
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    operator: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")


def create_app(settings: ConsoleSettings) -> FastAPI:
    mongo = make_client(settings.mongo_uri, "console")
    workers = dict(pair.split("=", 1) for pair in settings.worker_urls.split(",") if "=" in pair)
    probes = Probes(settings.kafka_bootstrap, mongo, settings.mongo_db_prefix, workers, settings.kafka_group_prefix)
    dead = DeadLetters(settings.kafka_bootstrap, mongo[settings.mongo_db]["replays"])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await probes.start()
        await dead.start()
        yield
        await dead.stop()
        await probes.stop()
        await mongo.close()

    app = FastAPI(title="dsp-mesh operations console", lifespan=lifespan)
    registry = CollectorRegistry()
    replays = Counter("dsp_console_replays", "Dead letters replayed from the console", registry=registry)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        return (STATIC / "index.html").read_text()

    @app.get("/static/plotly.min.js", include_in_schema=False)
    async def plotly() -> FileResponse:
        return FileResponse(str(files("plotly") / "package_data" / "plotly.min.js"), media_type="text/javascript")

    @app.get("/static/console.js", include_in_schema=False)
    async def script() -> FileResponse:
        return FileResponse(STATIC / "console.js", media_type="text/javascript")

    @app.get("/health/ready", include_in_schema=False)
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.get("/api/snapshot")
    async def snapshot() -> dict[str, Any]:
        return await probes.snapshot(datetime.now(UTC))

    @app.get("/api/stream")
    async def stream() -> StreamingResponse:
        async def events() -> AsyncIterator[str]:
            while True:
                try:
                    data = await probes.snapshot(datetime.now(UTC))
                    yield f"event: snapshot\ndata: {json.dumps(data, default=str)}\n\n"
                except Exception as exc:  # noqa: BLE001 - the page shows the error and keeps listening
                    yield f"event: problem\ndata: {json.dumps({'error': type(exc).__name__})}\n\n"
                await asyncio.sleep(settings.refresh_s)
        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    @app.get("/api/dlq")
    async def dlq(topic: str = Query(max_length=200), limit: int = Query(default=20, ge=1, le=200)) -> Any:
        try:
            return await dead.newest(topic, limit)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None

    @app.post("/api/dlq/replay")
    async def replay(body: Replay) -> dict[str, Any]:
        try:
            done = await dead.replay(body.topic, body.partition, body.offset, body.operator, datetime.now(UTC))
            replays.inc()
            return done
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None

    return app
