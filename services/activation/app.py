"""activation's bootstrap: settings -> runtime -> store -> the use cases (`use_cases`: clock, code key, password
list, LuxTrust, captcha, notify's sealing key, the console's verifier) -> Kafka handlers and HTTP routes -> ASGI
app. Tests swap the clock, the captcha and the LuxTrust verifier, and build the use cases over the in-memory
store with `use_cases`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from faststream.asgi import AsgiFastStream
from pydantic import Field

from schemas.activation import AccountActivatedV1, ActivationOutcomeV1
from schemas.notify import NotificationRequestV1
from schemas.topics import ACTIVATION_ACCOUNTS, ACTIVATION_EVENTS, NOTIFY_REQUESTS
from services.kit.http import Door
from services.kit.runtime import Clock, build_runtime, make_app, utc_now
from services.kit.servicetokens import Verifier
from services.kit.settings import Secret, ServiceSettings
from services.kit.turns import Turns

from .api import activation as activation_api
from .api import challenges as challenges_api
from .api import console as console_api
from .api import login as login_api
from .api import password as password_api
from .api import sessions as sessions_api
from .handlers import register
from .service.challenges import CaptchaMaker, Challenges, ImageCaptchaMaker
from .service.effects import Effects, Publishers
from .service.guard import Guards
from .service.helpdesk import HelpdeskCommands
from .service.letters import Letters
from .service.login import Login
from .service.luxtrust import LuxTrust
from .service.otp import OneTimeCodes
from .service.password import Passwords
from .service.sessions import Sessions
from .service.start import Start
from .service.stats import Stats
from .service.steps import Steps
from .service.tokens import Tokens
from .store.mongo import ActivationStore
from .store.protocol import Store


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


@dataclass(frozen=True)
class UseCases:
    letters: Letters
    helpdesk: HelpdeskCommands
    challenges: Challenges
    start: Start
    steps: Steps
    login: Login
    sessions: Sessions
    passwords: Passwords
    stats: Stats


def use_cases(store: Store, out: Publishers, clock: Clock, code_key: bytes, common: frozenset[str],
              luxtrust: LuxTrust, captcha: CaptchaMaker, notify_key: str | None, verifier: Verifier | None,
              pseudonym: Callable[[str], str]) -> UseCases:
    lock = Turns()  # one step at a time per matricule in this replica, whichever use case runs it
    effects = Effects(out, clock, notify_key)
    challenges = Challenges(store, code_key, clock, captcha)
    guards = Guards(store, challenges, effects, clock, code_key)
    otp, tokens = OneTimeCodes(code_key), Tokens(store, clock)
    letters = Letters(store, guards, effects, clock, code_key, pseudonym)
    sessions = Sessions(store, lock, clock, effects)
    return UseCases(
        letters=letters,
        helpdesk=HelpdeskCommands(store, lock, guards, letters, effects, verifier),
        challenges=challenges,
        start=Start(store, lock, clock, guards, tokens, effects),
        steps=Steps(store, lock, clock, otp, tokens, luxtrust, effects, common),
        login=Login(store, lock, clock, guards, otp, tokens, luxtrust, effects),
        sessions=sessions,
        passwords=Passwords(store, lock, clock, guards, challenges, sessions, letters, effects, common),
        stats=Stats(store),
    )


def routes(door: Door, uc: UseCases) -> list[tuple[str, Any]]:
    """Every route behind the door: the gateway's (the console's counters apart)."""
    return [*challenges_api.routes(door, uc.challenges), *activation_api.routes(door, uc.start, uc.steps),
            *login_api.routes(door, uc.login), *sessions_api.routes(door, uc.sessions),
            *password_api.routes(door, uc.passwords), *console_api.routes(door, uc.stats)]


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
    door = settings.door()
    uc = use_cases(ActivationStore(rt.db), out, clock, settings.code_key.get_secret_value().encode(),
                   common_passwords(), luxtrust or UnavailableLuxTrust(), captcha or ImageCaptchaMaker(),
                   settings.notify_public_key, door.verifier, rt.pseudonym)
    register(rt, uc.letters, uc.helpdesk)
    return make_app(rt, routes=routes(door, uc))
