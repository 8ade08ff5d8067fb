"""records' bootstrap: settings -> runtime -> store -> laboratories -> handlers, read API -> ASGI app."""

from __future__ import annotations

from typing import ClassVar

from faststream.asgi import AsgiFastStream
from pydantic import Field

from services.kit.runtime import Clock, build_runtime, make_app, utc_now
from services.kit.servicetokens import private_key
from services.kit.settings import ServiceKey, ServiceSettings

from .api import RecordsApi
from .directory import Directory
from .handlers import register
from .laboratories import Laboratories
from .store import RecordsStore


class RecordsSettings(ServiceSettings):
    service: ClassVar[str] = "records"
    http_port: int = Field(default=8101, validation_alias="DSP_RECORDS_HTTP_PORT",
                           description="Port of records' health/metrics endpoint and read API")
    service_key: ServiceKey = Field(  # required here (optional for the other workers)
        validation_alias="DSP_SERVICE_KEY",
        description="records' Ed25519 private key (base64 seed, a secret): it seals the lab results it maps from FHIR "
                    "bundles, after checking the laboratory's signature, so that lab.results.v1 can tell them from "
                    "anyone else's")


def create_app(settings: RecordsSettings, clock: Clock = utc_now) -> AsgiFastStream:
    rt = build_runtime(settings, clock)
    store = RecordsStore(rt.db)
    directory = Directory(store, Laboratories())
    register(rt, store, directory, private_key(settings.service_key.get_secret_value()))
    return make_app(rt, on_startup=[store.ensure_indexes, directory.load],
                    routes=RecordsApi(store, directory.laboratories).routes(settings.door()))
