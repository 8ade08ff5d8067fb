"""activation's bootstrap: settings -> runtime -> handlers -> ASGI app."""

from __future__ import annotations

from typing import ClassVar

from faststream.asgi import AsgiFastStream
from pydantic import Field

from services.kit.runtime import Clock, build_runtime, make_app, utc_now
from services.kit.settings import ServiceSettings

from .handlers import register


class ActivationSettings(ServiceSettings):
    service: ClassVar[str] = "activation"
    http_port: int = Field(default=8102, validation_alias="DSP_ACTIVATION_HTTP_PORT",
                           description="Port of activation's health/metrics endpoint")


def create_app(settings: ActivationSettings, clock: Clock = utc_now) -> AsgiFastStream:
    rt = build_runtime(settings, clock)
    register(rt)
    return make_app(rt)
