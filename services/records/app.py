"""records' bootstrap: settings -> runtime -> store -> handlers, read API -> ASGI app."""

from __future__ import annotations

from typing import ClassVar

from faststream.asgi import AsgiFastStream
from pydantic import Field

from services.kit.runtime import Clock, build_runtime, make_app, utc_now
from services.kit.settings import ServiceSettings

from .api import RecordsApi
from .handlers import register
from .store import RecordsStore


class RecordsSettings(ServiceSettings):
    service: ClassVar[str] = "records"
    http_port: int = Field(default=8101, validation_alias="DSP_RECORDS_HTTP_PORT",
                           description="Port of records' health/metrics endpoint and read API")


def create_app(settings: RecordsSettings, clock: Clock = utc_now) -> AsgiFastStream:
    rt = build_runtime(settings, clock)
    store = RecordsStore(rt.db)
    register(rt, store)
    return make_app(rt, on_startup=[store.ensure_indexes], routes=RecordsApi(store).routes(settings.door()))
