"""Sessions end when they must (issue 24, "Trust II"): a password change, a new letter (its code accepted at
`start`, or a helpdesk re-issue), a re-activation and "log out everywhere" end every session of the account,
whatever their number and age (25 here: the 20-digest list kept before let the oldest live on); a session lives
12 hours at most however often it is used. activation's real service layer over the in-memory store, on the
injected clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from schemas.activation import (
    ActivationCommandV1,
    ChangePasswordRequest,
    ForgotPasswordRequest,
    LoginCodeRequest,
    LoginRequest,
    SessionRequest,
    StepRequest,
)
from services.activation.domain import rules
from services.activation.domain.account import Account, end_every_session
from services.kit.hashing import digest
from services.kit.servicetokens import Signer, Verifier, parse_public_keys
from tests.support import fixed_service_key, fixed_service_public_keys
from tests.unit.test_activation_flow import PASSWORD, M, World

MANY = 25  # more than the 20 session digests the account kept before


def verified_world() -> World:
    """A World whose helpdesk commands are verified as activation verifies them: signed by the console."""
    return World(Verifier("activation", parse_public_keys(fixed_service_public_keys())))


@pytest.fixture
def world() -> Iterator[World]:
    yield verified_world()


async def log_in(world: World, password: str = PASSWORD) -> str:
    login = await world.uc.login.password(LoginRequest(matricule=M, password=password))
    assert login.step.accepted and login.token, login.step.reason
    opened = await world.uc.login.code(LoginCodeRequest(login_token=login.token,
                                                        code=world.last_secret("one-time-code")["code"]))
    assert opened.step.accepted and opened.token, opened.step.reason
    return opened.token


async def sessions(world: World, count: int = MANY) -> list[str]:
    """`count` sessions of M, a minute apart (the oldest first)."""
    tokens = []
    for _ in range(count):
        tokens.append(await log_in(world))
        world.clock.advance(minutes=1)
    return tokens


async def alive(world: World, tokens: list[str]) -> list[bool]:
    return [await world.uc.sessions.check(token, touch=False) is not None for token in tokens]


def helpdesk(command: str, command_id: str) -> Any:
    assertion = Signer("console", fixed_service_key("console")).assertion("activation", "ops-1", cmd=command_id,
                                                                          matricule=M)
    return ActivationCommandV1.model_validate({"command": command, "command_id": command_id, "matricule": M,
                                               "operator": "ops-1", "operator_assertion": assertion}).root


def test_a_password_change_ends_every_other_session_and_keeps_its_own(world: World) -> None:
    async def go() -> None:
        await world.activate()
        tokens = await sessions(world)
        current, before = tokens[7], world.store.accounts[M]["session_generation"]  # neither oldest nor newest
        changed = await world.uc.passwords.change(ChangePasswordRequest(
            session_token=current, password=PASSWORD, new_password="Echternach-Abbey-2032"))
        assert changed.step.accepted, changed.step.reason
        assert await alive(world, tokens) == [token == current for token in tokens]
        assert world.store.accounts[M]["session_generation"] == before + 1
        assert world.store.sessions[digest(current)]["generation"] == before + 1
        assert "sessions" not in world.store.accounts[M]  # no list of digests any more
        newer = await log_in(world, "Echternach-Abbey-2032")  # a session opened afterwards is not ended
        assert await alive(world, [current, newer]) == [True, True]

    world.run(go())


def test_log_out_everywhere_ends_every_session_and_a_single_logout_only_its_own(world: World) -> None:
    async def go() -> None:
        await world.activate()
        tokens = await sessions(world)
        single = await world.uc.sessions.end(SessionRequest(session_token=tokens[3]))
        assert single.step.reason == "logged out"
        assert await alive(world, tokens) == [i != 3 for i in range(MANY)]
        everywhere = await world.uc.sessions.end(SessionRequest(session_token=tokens[-1], everywhere=True))
        assert everywhere.step.reason == "logged out everywhere"
        assert await alive(world, tokens) == [False] * MANY
        assert not (await world.uc.sessions.end(SessionRequest(session_token=tokens[0]))).step.accepted
        assert await alive(world, [await log_in(world)]) == [True]  # logging in again works

    world.run(go())


def test_a_forgotten_password_letters_code_ends_every_session_at_start(world: World) -> None:
    async def go() -> None:
        await world.activate()
        tokens = await sessions(world)
        asked = await world.uc.passwords.forgot(ForgotPasswordRequest(matricule=M, challenge=await world.captcha()))
        assert asked.step.accepted and world.store.accounts[M]["generation"] == 2
        assert await alive(world, tokens) == [True] * MANY  # asking is not enough: anyone may ask for a letter
        started = await world.start(world.last_secret("activation-code")["code"])
        assert started.step.accepted, started.step.reason
        assert await alive(world, tokens) == [False] * MANY

    world.run(go())


def test_a_helpdesk_reissue_ends_every_session(world: World) -> None:
    async def go() -> None:
        await world.activate()
        tokens = await sessions(world)
        reissued = await world.uc.helpdesk.apply(helpdesk("reissue-code", "hd-reissue-1"))
        assert reissued.accepted, reissued.reason
        assert world.store.accounts[M]["generation"] == 2
        assert await alive(world, tokens) == [False] * MANY
        again = await world.uc.helpdesk.apply(helpdesk("reissue-code", "hd-reissue-1"))  # redelivered
        assert again == reissued and world.store.accounts[M]["generation"] == 2
        assert await alive(world, [await log_in(world)]) == [True]  # the password still logs in

    world.run(go())


def test_a_reactivation_ends_the_sessions_opened_while_it_ran(world: World) -> None:
    async def go() -> None:
        await world.activate()
        await world.uc.passwords.forgot(ForgotPasswordRequest(matricule=M, challenge=await world.captcha()))
        started = await world.start(world.last_secret("activation-code")["code"])
        assert started.step.accepted and started.token
        tokens = await sessions(world)  # the old password still logs in until the new one is set
        for command, fields in (("set-password", {"password": "Clervaux-Castle-2034"}),
                                ("choose-channel", {"channel": "sms"}), ("verify-otp", None),
                                ("skip-luxtrust", {})):
            if command == "verify-otp":
                fields = {"code": world.last_secret("one-time-code")["code"]}
            step = await world.uc.steps.run(StepRequest(flow_token=started.token, command=command, **fields))
            assert step.step.accepted, (command, step.step.reason)
        assert await alive(world, tokens) == [True] * MANY
        confirmed = await world.uc.steps.run(StepRequest(flow_token=started.token, command="confirm"))
        assert confirmed.step.reason == "account activated"
        assert await alive(world, tokens) == [False] * MANY

    world.run(go())


def test_a_session_lives_twelve_hours_at_most_however_often_it_is_used(world: World) -> None:
    async def go() -> None:
        await world.activate()
        token = await log_in(world)
        opened = world.clock()
        while world.clock() + rules.SESSION_IDLE < opened + rules.SESSION_MAX:
            world.clock.advance(minutes=25)  # used every 25 minutes: never idle for 30
            found = await world.uc.sessions.check(token)
            assert found is not None and found["expires_at"] <= opened + rules.SESSION_MAX
        world.clock.set(opened + rules.SESSION_MAX - rules.SESSION_IDLE / 2)
        last = await world.uc.sessions.check(token)  # the idle end is capped at the 12 hours
        assert last is not None and last["expires_at"] == opened + rules.SESSION_MAX
        world.clock.set(opened + rules.SESSION_MAX - rules.SESSION_IDLE / 4)
        assert await world.uc.sessions.check(token) is not None
        world.clock.set(opened + rules.SESSION_MAX)
        assert await world.uc.sessions.check(token) is None
        assert await world.uc.sessions.check(token, touch=False) is None
        idle = await log_in(world)  # and, as before, 30 minutes without a use end one
        world.clock.advance(minutes=30)
        assert await world.uc.sessions.check(idle) is None

    world.run(go())


def test_the_session_check_reads_by_id_only_and_accepts_older_documents(world: World) -> None:
    async def go() -> None:
        await world.activate()
        token = await log_in(world)
        world.store.reads.clear()
        assert await world.uc.sessions.check(token) is not None
        assert world.store.reads == [("sessions", digest(token)), ("accounts", M)]
        # documents written before session generations: a list of digests, no generation anywhere
        account, stored = world.store.accounts[M], world.store.sessions[digest(token)]
        account.pop("session_generation")
        account["sessions"] = [digest(token)] * 20
        stored.pop("generation")
        assert await world.uc.sessions.check(token) is not None
        ended = await world.uc.sessions.end(SessionRequest(session_token=token, everywhere=True))
        assert ended.step.accepted and await world.uc.sessions.check(token) is None
        assert world.store.accounts[M]["session_generation"] == 1 and "sessions" not in world.store.accounts[M]
        world.store.accounts.pop(M)  # no account: no session
        world.store.sessions[digest(token)].update(revoked=False, generation=5)
        assert await world.uc.sessions.check(token) is None

    world.run(go())


def test_ending_every_session_moves_the_generation_on_and_drops_the_old_list() -> None:
    acc: Account = {"_id": M, "sessions": ["a", "b"]}  # as older documents have it
    assert end_every_session(acc) == 1 and acc == {"_id": M, "session_generation": 1}
    assert end_every_session(acc) == 2 and acc["session_generation"] == 2


def test_a_session_in_use_is_written_once_a_minute_and_ends_29_to_30_minutes_after_its_last_use(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A portal page is one session check: the idle end is stored when it moves on by a minute or more
    (`rules.SESSION_TOUCH_STEP`), not on every page (issue 29: a write a page view under a crowd)."""
    async def go() -> None:
        await world.activate()
        token = await log_in(world)
        writes: list[Any] = []
        touch = world.store.touch_session

        async def counted(digest: str, expires_at: Any) -> None:
            writes.append(expires_at)
            await touch(digest, expires_at)

        monkeypatch.setattr(world.store, "touch_session", counted)
        for _ in range(30):  # a page every 10 s for 5 minutes
            world.clock.advance(seconds=10)
            assert await world.uc.sessions.check(token) is not None
        assert len(writes) == 5  # once a minute
        last_use = world.clock()
        world.clock.advance(minutes=29)
        assert await world.uc.sessions.check(token, touch=False) is not None  # not idle for 29 minutes yet
        world.clock.set(last_use + rules.SESSION_IDLE)
        assert await world.uc.sessions.check(token) is None  # idle 30 minutes: ended, however it was stored

    world.run(go())
