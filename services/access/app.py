"""access's bootstrap: settings -> runtime -> handlers -> ASGI app."""

from __future__ import annotations

from typing import ClassVar

from faststream.asgi import AsgiFastStream
from pydantic import Field

from services.kit.runtime import Clock, build_runtime, make_app, utc_now
from services.kit.settings import ServiceSettings

from .handlers import register


class AccessSettings(ServiceSettings):
    service: ClassVar[str] = "access"
    http_port: int = Field(default=8103, validation_alias="DSP_ACCESS_HTTP_PORT",
                           description="Port of access's health/metrics endpoint")


def create_app(settings: AccessSettings, clock: Clock = utc_now) -> AsgiFastStream:
    rt = build_runtime(settings, clock)
    register(rt)
    return make_app(rt)
