"""activation's flow through its real service layer over an in-memory store and recording publishers (issue 14):
letter -> start -> password -> channel -> one-time code -> LuxTrust skipped -> active; login; wrong guesses
counted; a redelivered helpdesk command answered from the account's outcome log. No broker, no database."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from schemas.activation import (
    ActivationCommandV1,
    LoginCodeRequest,
    LoginRequest,
    LuxTrustLoginRequest,
    StartRequest,
    StepRequest,
)
from schemas.registry import PersonRegisteredV1
from services.activation.app import use_cases
from services.activation.domain import rules
from services.activation.domain.account import person_fields
from services.activation.service.effects import Publishers
from services.activation.service.luxtrust import LuxTrust
from services.activation.store.protocol import Store
from services.kit.sealing import request_binding, unseal
from services.kit.servicetokens import Verifier
from tests.fakes.activation import FakeActivationStore
from tests.fakes.publish import Sent
from tests.inprocess import FakeClock
from tests.support import TEST_NOTIFY_PUBLIC_KEY, TEST_NOTIFY_SEAL_KEY, make_matricule, person

KEY = b"k" * 32
M = make_matricule(date(1985, 4, 2), 21)
PASSWORD = "Moselle-Riesling-1987"


class Captcha:
    def make(self) -> tuple[str, bytes]:
        return "KX7PA", b"png"


class NoLuxTrust:
    async def verify(self, assertion: str, matricule: str) -> bool:
        return False


class AssertionLuxTrust:
    """A LuxTrust double that accepts `luxtrust-ok:<matricule>` only."""

    async def verify(self, assertion: str, matricule: str) -> bool:
        return assertion == f"luxtrust-ok:{matricule}"


class World:
    def __init__(self, verifier: Verifier | None = None, luxtrust: LuxTrust | None = None) -> None:
        self.clock = FakeClock(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
        self.store, self.notify, self.outcome, self.activated = FakeActivationStore(), Sent(), Sent(), Sent()
        store: Store = self.store  # the fake is the Protocol's (mypy checks it)
        self.uc = use_cases(store, Publishers(self.outcome, self.activated, self.notify), self.clock, KEY,
                            frozenset({"password1234"}), luxtrust or NoLuxTrust(), Captcha(), TEST_NOTIFY_PUBLIC_KEY,
                            verifier, lambda matricule: "pseudonym")
        self.challenges = self.uc.challenges

    def run(self, coro: Any) -> Any:
        return asyncio.run(coro)

    async def captcha(self) -> dict[str, str]:
        return {"captcha_id": (await self.challenges.new_captcha())["captcha_id"], "captcha_answer": "kx7pa"}

    def last_secret(self, template: str) -> dict[str, str]:
        """What only notify can read: the sealed parameters of the last `template` request."""
        body = next(b for b in reversed(self.notify.bodies) if b["template_id"] == template)
        binding = request_binding(body["request_id"], body["channel"], body["recipient"], body.get("destination"))
        return unseal(TEST_NOTIFY_SEAL_KEY, body["sealed_parameters"], bound_to=binding)

    async def register(self) -> None:
        fields = person_fields(PersonRegisteredV1.model_validate(person(M, mobile="+352621123456")))
        await self.store.put_person(M, fields, {"registered_at": self.clock()})
        await self.uc.letters.send(M, fields)

    async def start(self, code: str) -> Any:
        return await self.uc.start.run(StartRequest(matricule=M, activation_code=code, terms_version="2026-01",
                                                    challenge=await self.captcha()))

    async def activate(self) -> str:
        await self.register()
        started = await self.start(self.last_secret("activation-code")["code"])
        assert started.step.accepted and started.token, started.step.reason

        async def step(command: str, **fields: Any) -> Any:
            answer = await self.uc.steps.run(StepRequest(flow_token=started.token, command=command, **fields))
            assert answer.step.accepted, (command, answer.step.reason)
            return answer

        await step("set-password", password=PASSWORD)
        await step("choose-channel", channel="sms")
        await step("verify-otp", code=self.last_secret("one-time-code")["code"])
        await step("skip-luxtrust")
        confirmed = await step("confirm")
        return str(confirmed.device_token)


@pytest.fixture
def world() -> Iterator[World]:
    yield World()


def test_a_letter_leads_to_an_active_account_and_one_activated_event(world: World) -> None:
    device = world.run(world.activate())
    account = world.store.accounts[M]
    assert account["active"] and account["state"] == "active" and account["code_used"]
    assert PASSWORD not in str(account) and device
    assert [e["matricule"] for e in world.activated.bodies] == [M]
    assert [o["command"] for o in world.outcome.bodies] == ["start", "set-password", "choose-channel", "verify-otp",
                                                           "skip-luxtrust", "confirm"]
    assert all(o["accepted"] for o in world.outcome.bodies)
    letter = world.notify.bodies[0]
    assert letter["template_id"] == "activation-code" and "code" not in letter["parameters"]  # sealed, never clear
    assert rules.activation_code(KEY, M, 1) not in str(world.notify.bodies)


def test_a_wrong_letter_code_is_counted_and_the_code_is_single_use(world: World) -> None:
    async def go() -> None:
        await world.register()
        wrong = await world.start("AAAA-BBBB-CCCC")
        assert not wrong.step.accepted and wrong.step.reason.startswith("this matricule and activation code")
        assert (await world.store.attempt("code", M))["failures"] == 1
        await world.activate()  # a new letter is not needed: the right code still works
        again = await world.start(rules.activation_code(KEY, M, 1))
        assert not again.step.accepted  # used

    world.run(go())


def test_login_sends_a_code_and_the_code_opens_a_session(world: World) -> None:
    async def go() -> None:
        await world.activate()
        wrong = await world.uc.login.password(LoginRequest(matricule=M, password="Not-The-Password-1"))
        assert not wrong.step.accepted and wrong.step.reason == "wrong matricule or password"
        login = await world.uc.login.password(LoginRequest(matricule=M, password=PASSWORD))
        assert login.step.accepted and login.token and login.step.next_step == "login-verify-otp"
        code = world.last_secret("one-time-code")["code"]
        opened = await world.uc.login.code(LoginCodeRequest(login_token=login.token, code=code))
        assert opened.step.accepted and opened.token
        assert await world.uc.sessions.check(opened.token) is not None
        assert (await world.store.attempt("login", M))["failures"] == 0  # a success clears the count

    world.run(go())


def test_a_helpdesk_command_without_an_operators_signature_is_refused_once_and_replayed(world: World) -> None:
    async def go() -> None:
        await world.register()
        cmd = ActivationCommandV1.model_validate({"command": "reissue-code", "command_id": "hd-1", "matricule": M,
                                                  "operator": "ops-1", "operator_assertion": "x" * 20}).root
        first = await world.uc.helpdesk.apply(cmd)
        assert not first.accepted and first.reason.startswith("no service keys configured")
        again = await world.uc.helpdesk.apply(cmd)  # redelivered: the stored outcome, sent again
        assert again == first and [o["event_id"] for o in world.outcome.bodies] == [first.event_id] * 2
        assert world.store.accounts[M]["generation"] == 1  # no second letter

    world.run(go())


def test_luxtrust_logs_an_active_account_in_with_an_accepted_assertion_only() -> None:
    world = World(luxtrust=AssertionLuxTrust())

    async def luxtrust(assertion: str) -> Any:
        return await world.uc.login.luxtrust(LuxTrustLoginRequest(matricule=M, luxtrust_assertion=assertion))

    async def go() -> None:
        unknown = await luxtrust(f"luxtrust-ok:{M}")  # no account yet
        assert (unknown.step.reason, unknown.token) == ("the LuxTrust assertion was not accepted", None)
        await world.activate()
        forged = await luxtrust("forged")
        assert (forged.step.reason, forged.token) == ("the LuxTrust assertion was not accepted", None)
        opened = await luxtrust(f"luxtrust-ok:{M}")
        assert opened.step.reason == "logged in" and opened.token and opened.step.details["session_expires_at"]
        assert await world.uc.sessions.check(opened.token) is not None
        assert [o["accepted"] for o in world.outcome.bodies if o["command"] == "login-luxtrust"] == [False, False, True]

    world.run(go())
