"""notify's bootstrap: settings -> runtime -> handlers -> ASGI app."""

from __future__ import annotations

from typing import ClassVar

from faststream.asgi import AsgiFastStream
from pydantic import Field

from services.kit.runtime import Clock, build_runtime, make_app, utc_now
from services.kit.settings import ServiceSettings

from .handlers import register


class NotifySettings(ServiceSettings):
    service: ClassVar[str] = "notify"
    http_port: int = Field(default=8104, validation_alias="DSP_NOTIFY_HTTP_PORT",
                           description="Port of notify's health/metrics endpoint")


def create_app(settings: NotifySettings, clock: Clock = utc_now) -> AsgiFastStream:
    rt = build_runtime(settings, clock)
    register(rt)
    return make_app(rt)
