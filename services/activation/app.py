"""activation's bootstrap: settings -> runtime -> store, challenges, service (clock, code key, password list,
LuxTrust, notify's sealing key) -> handlers and HTTP API -> ASGI app. Tests swap the clock, the captcha and
the LuxTrust verifier."""

from __future__ import annotations

from typing import ClassVar

from faststream.asgi import AsgiFastStream
from pydantic import Field

from schemas.activation import AccountActivatedV1, ActivationOutcomeV1
from schemas.notify import NotificationRequestV1
from schemas.topics import ACTIVATION_ACCOUNTS, ACTIVATION_EVENTS, NOTIFY_REQUESTS
from services.kit.runtime import Clock, build_runtime, make_app, utc_now
from services.kit.settings import Secret, ServiceSettings

from .api import ActivationApi
from .challenges import CaptchaMaker, Challenges, ImageCaptchaMaker
from .handlers import register
from .service import ActivationService, LuxTrust, Publishers
from .store.mongo import ActivationStore


class UnavailableLuxTrust:
    """No LuxTrust connection on this platform: linking is refused (the person can skip it)."""

    async def verify(self, assertion: str, matricule: str) -> bool:
        return False


def common_passwords() -> frozenset[str]:
    """The 30 000 most common passwords, as bundled with zxcvbn (a maintained password-strength library)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


class ActivationSettings(ServiceSettings):
    service: ClassVar[str] = "activation"
    http_port: int = Field(default=8102, validation_alias="DSP_ACTIVATION_HTTP_PORT",
                           description="Port of activation's health/metrics endpoint and HTTP API")
    code_key: Secret = Field(validation_alias="DSP_ACTIVATION_CODE_KEY",
                             description="Server key the activation codes are derived from (HMAC)")


def create_app(settings: ActivationSettings, clock: Clock = utc_now, captcha: CaptchaMaker | None = None,
               luxtrust: LuxTrust | None = None) -> AsgiFastStream:
    rt = build_runtime(settings, clock)
    broker = rt.broker
    out = Publishers(
        outcome=broker.publisher(ACTIVATION_EVENTS.name, schema=ActivationOutcomeV1, title="activation.outcomes",
                                 description="One outcome per activation command").publish,
        activated=broker.publisher(ACTIVATION_ACCOUNTS.name, schema=AccountActivatedV1,
                                   title="activation.accounts", description="An account became active").publish,
        notify=broker.publisher(NOTIFY_REQUESTS.name, schema=NotificationRequestV1, title="activation.notify",
                                description="Activation letters and one-time codes").publish,
    )
    store, key = ActivationStore(rt.db), settings.code_key.get_secret_value().encode()
    challenges = Challenges(store, key, clock, captcha or ImageCaptchaMaker())
    service = ActivationService(store, out, clock, key, common_passwords(), luxtrust or UnavailableLuxTrust(),
                                challenges, settings.notify_public_key, settings.door())
    register(rt, service)
    return make_app(rt, routes=ActivationApi(service, challenges).routes(settings.door()))
