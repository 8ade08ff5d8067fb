"""The one entry point of every worker: load settings (fail fast), configure logging, serve."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from faststream.asgi import AsgiFastStream

from . import logging as kit_logging
from .runtime import serve
from .settings import ServiceSettings, load

S = TypeVar("S", bound=ServiceSettings)


def run(settings_cls: type[S], create_app: Callable[[S], AsgiFastStream]) -> None:
    settings = load(settings_cls)
    kit_logging.configure(settings.service, settings.log_level, settings.log_json)
    serve(create_app(settings), settings, settings.http_port)
