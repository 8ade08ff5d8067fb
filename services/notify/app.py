"""notify's bootstrap: settings -> runtime -> store, channels (SMTP, SMS gateway, letter printer) -> the use cases
(`use_cases`) -> Kafka handlers and internal API routes -> ASGI app. Tests build the use cases over the in-memory
store (tests/fakes/notify.py) with `use_cases`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from faststream.asgi import AsgiFastStream
from pydantic import Field, SecretStr, model_validator

from schemas.notify import DeliveryV1
from schemas.topics import NOTIFY_EVENTS
from services.kit.deadletter import RetryPolicy
from services.kit.http import Door
from services.kit.runtime import Clock, build_runtime, make_app, utc_now
from services.kit.sealing import public_key_of
from services.kit.settings import SealKey, ServiceSettings

from .api import console as console_api
from .api import notifications as notifications_api
from .handlers import register
from .service.channels import LetterPrinter, Mailer, Printer, SmsGateway, Smtp, Texter
from .service.contacts import Contacts
from .service.delivery import Delivery
from .service.documents import DocumentNotices
from .service.inbox import Inbox
from .service.stats import Stats
from .store.mongo import NotifyStore
from .store.protocol import Store


class NotifySettings(ServiceSettings):
    service: ClassVar[str] = "notify"
    http_port: int = Field(default=8104, validation_alias="DSP_NOTIFY_HTTP_PORT",
                           description="Port of notify's health/metrics endpoint and internal API")
    smtp_host: str = Field(default="127.0.0.1", validation_alias="DSP_NOTIFY_SMTP_HOST", description="SMTP server")
    smtp_port: int = Field(default=2525, validation_alias="DSP_NOTIFY_SMTP_PORT", description="SMTP port")
    mail_from: str = Field(default="eSanté <no-reply@esante.lu>", validation_alias="DSP_NOTIFY_MAIL_FROM",
                           description="Sender of e-mails")
    sms_url: str = Field(default="http://127.0.0.1:8125/sms", validation_alias="DSP_NOTIFY_SMS_URL",
                         description="The HTTP SMS gateway's send endpoint")
    sms_token: SecretStr = Field(default=SecretStr("local-sms-sink"), validation_alias="DSP_NOTIFY_SMS_TOKEN",
                                 description="Bearer token for the SMS gateway")
    letter_dir: Path = Field(default=Path.home() / ".local/state/dsp-mesh/letters",
                             validation_alias="DSP_NOTIFY_LETTER_DIR",
                             description="Outbox folder of PDF letters and their manifest.jsonl")
    seal_key: SealKey = Field(validation_alias="DSP_NOTIFY_SEAL_KEY",
                              description="notify's private key (base64 X25519): opens the sealed parameters of "
                                          "notification requests; its public half is DSP_NOTIFY_PUBLIC_KEY")

    @model_validator(mode="after")
    def _keys_are_a_pair(self) -> NotifySettings:
        if self.notify_public_key and public_key_of(self.seal_key.get_secret_value()) != self.notify_public_key:
            raise ValueError("DSP_NOTIFY_PUBLIC_KEY is not the public half of DSP_NOTIFY_SEAL_KEY: producers would "
                             "seal to a key notify cannot open")
        return self


@dataclass(frozen=True)
class UseCases:
    contacts: Contacts
    delivery: Delivery
    documents: DocumentNotices
    inbox: Inbox
    stats: Stats


def use_cases(store: Store, smtp: Mailer, sms: Texter, printer: Printer, publish: Callable[..., Awaitable[Any]],
              clock: Clock, pseudonym: Callable[[str], str], retry: RetryPolicy, seal_key: str) -> UseCases:
    return UseCases(contacts=Contacts(store, clock),
                    delivery=Delivery(store, smtp, sms, printer, publish, clock, pseudonym, retry, seal_key),
                    documents=DocumentNotices(store, clock, pseudonym), inbox=Inbox(store, clock), stats=Stats(store))


def routes(door: Door, uc: UseCases) -> list[tuple[str, Any]]:
    return [*notifications_api.routes(door, uc.inbox), *console_api.routes(door, uc.stats)]


def create_app(settings: NotifySettings, clock: Clock = utc_now) -> AsgiFastStream:
    rt = build_runtime(settings, clock)
    events = rt.broker.publisher(NOTIFY_EVENTS.name, schema=DeliveryV1, title="notify.events",
                                 description="Delivered or failed, per request")
    sms = SmsGateway(settings.sms_url, settings.sms_token.get_secret_value())
    uc = use_cases(NotifyStore(rt.db), Smtp(settings.smtp_host, settings.smtp_port, settings.mail_from), sms,
                   LetterPrinter(settings.letter_dir), events.publish, clock, rt.pseudonym, rt.dead_letters.retry,
                   settings.seal_key.get_secret_value())
    register(rt, uc.contacts, uc.delivery, uc.documents)
    return make_app(rt, routes=routes(settings.door(), uc), on_shutdown=[sms.close])
