"""Nobody locks anybody out (issue 24, "Trust II"): a stranger solving challenges from 8 addresses, retrying each
time its wait ends, kept the owner — right password, solved challenge — at `too many failed attempts` for 75 s.
The delay now counts each client address's failures on the matricule; the challenge and the owner's notices
still count the matricule's. activation's real service layer over the in-memory store, on the injected clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from schemas.activation import ChangePasswordRequest, LoginCodeRequest, LoginRequest, StartRequest
from tests.unit.test_activation_flow import PASSWORD, M, World
from tests.unit.test_activation_sessions import helpdesk, log_in, verified_world

STRANGERS = [f"127.0.0.{i}" for i in range(2, 10)]
OWNER = "127.0.0.10"


@pytest.fixture
def world() -> Iterator[World]:
    yield verified_world()


async def login(world: World, password: str, client: str, challenge: bool = True, **fields: Any) -> Any:
    return await world.uc.login.password(LoginRequest(matricule=M, password=password, client=client,
                                                      challenge=await world.captcha() if challenge else None,
                                                      **fields))


def test_strangers_on_eight_addresses_never_delay_the_owner(world: World) -> None:
    async def go() -> None:
        await world.activate()
        due = dict.fromkeys(STRANGERS, world.clock())  # when each stranger's wait ends
        waits: dict[str, list[int]] = {a: [] for a in STRANGERS}
        failed = 0
        for second in range(31):  # 30 s of the attack: each stranger tries again as soon as its wait ends
            for address in STRANGERS:
                if world.clock() < due[address]:
                    continue
                answer = await login(world, "Not-Her-Password-1", address)
                if answer.retry_after_s:
                    waits[address].append(answer.retry_after_s)
                    due[address] = world.clock() + timedelta(seconds=answer.retry_after_s)
                else:
                    assert answer.step.reason == "wrong matricule or password"
                    failed += 1
            if second == 4:  # the owner, from her own address, right password and a solved challenge: before, the
                # 32 failures so far had every attempt on the matricule wait (2^29 s, capped at 15 minutes)
                owner = await login(world, PASSWORD, OWNER)
                assert owner.step.accepted and owner.token, owner.step.reason  # at the first try
                opened = await world.uc.login.code(LoginCodeRequest(
                    login_token=owner.token, code=world.last_secret("one-time-code")["code"]))
                assert opened.step.accepted and await world.uc.sessions.check(str(opened.token)) is not None
            world.clock.advance(seconds=1)
        # each address failed at 0, 1, 2 s, then 1, 2, 4, 8 s after each failure (asked the next second, it was
        # told the rest: 1, 3, 7, 15 s); its 16 s after the 7th outlast the 30 s
        assert failed == 8 * 7 and all(w == [1, 3, 7, 15] for w in waits.values()), waits
        counted = await world.store.attempt("login", M)
        assert counted["failures"] == 8 * 3  # the matricule's count (challenge, notices) went on after her login
        held = await login(world, PASSWORD, OWNER, challenge=False)  # the challenge is still the matricule's
        assert held.step.reason.startswith("solve the challenge") and held.challenge_required

    world.run(go())


def test_an_address_waits_for_its_own_failures_and_an_unlock_clears_every_address(world: World) -> None:
    async def go() -> None:
        await world.activate()
        for _ in range(3):
            assert (await login(world, "Typo-Password-1", OWNER)).step.reason == "wrong matricule or password"
        waiting = await login(world, PASSWORD, OWNER)  # her own failures do delay her (no trusted device here)
        assert (waiting.retry_after_s, waiting.challenge_required) == (1, True)
        assert (await login(world, PASSWORD, "192.0.2.7")).step.accepted  # another address of hers does not wait
        for _ in range(4):
            world.clock.advance(minutes=15)
            await login(world, "Typo-Password-1", OWNER)
        assert (await login(world, PASSWORD, OWNER)).retry_after_s == 16  # 7 failures of her own
        unlocked = await world.uc.helpdesk.apply(helpdesk("unlock", "hd-unlock-1"))
        assert unlocked.reason == "failure counts cleared"
        assert (await login(world, PASSWORD, OWNER, challenge=False)).step.accepted  # no wait, no challenge
        assert all(OWNER not in key and "192.0.2.7" not in key for key in world.store.attempts)  # keyed hashes

    world.run(go())


def test_a_stranger_guessing_the_letters_code_never_delays_the_owners_start(world: World) -> None:
    async def go() -> None:
        await world.register()
        code = world.last_secret("activation-code")["code"]

        async def start(typed: str, client: str) -> Any:
            return await world.uc.start.run(StartRequest(matricule=M, activation_code=typed, terms_version="2026-01",
                                                         challenge=await world.captcha(), client=client))

        for _ in range(6):  # a stranger guessing as fast as its waits allow
            answer = await start("AAAA-BBBB-CCCC", STRANGERS[0])
            if answer.retry_after_s:
                world.clock.advance(seconds=answer.retry_after_s)
                answer = await start("AAAA-BBBB-CCCC", STRANGERS[0])
            assert answer.step.reason.startswith("this matricule and activation code do not match")
        assert (await start("AAAA-BBBB-CCCC", STRANGERS[0])).retry_after_s == 8
        assert (await world.store.attempt("code", M))["failures"] == 6
        owner = await start(code, OWNER)
        assert owner.step.accepted and owner.token, owner.step.reason
        assert [b["parameters"]["failures"] for b in world.notify.bodies
                if b["template_id"] == "repeated-code-failures" and b["channel"] == "inapp"] == ["3"]

    world.run(go())


def test_the_owner_is_told_of_failures_counted_over_every_address(world: World) -> None:
    async def go() -> None:
        await world.activate()
        for i in range(10):  # ten strangers, one failure each: none of them waits, the owner is told at 3 and 10
            answer = await login(world, "Not-Her-Password-1", f"198.51.100.{i}")
            assert answer.step.reason == "wrong matricule or password" and not answer.retry_after_s
        assert [b["parameters"]["failures"] for b in world.notify.bodies
                if b["template_id"] == "repeated-login-failures" and b["channel"] == "inapp"] == ["3", "10"]

    world.run(go())


def test_the_password_change_asks_the_current_password_never_a_challenge(world: World) -> None:
    async def go() -> None:
        await world.activate()
        session = await log_in(world)
        for i in range(30):  # strangers' failed logins: the matricule now asks every login for a challenge
            assert not (await login(world, "Not-Her-Password-1", f"198.51.100.{i}")).step.accepted
        assert (await world.store.attempt("login", M))["failures"] == 30

        async def change(current: str, new: str) -> Any:
            return await world.uc.passwords.change(ChangePasswordRequest(session_token=session, password=current,
                                                                         new_password=new))

        for _ in range(3):  # her own typos: counted for her password change only
            assert (await change("Typo-Password-1", "Echternach-Abbey-2032")).step.reason == (
                "the current password is wrong")
        held = await change(PASSWORD, "Echternach-Abbey-2032")
        assert (held.retry_after_s, held.challenge_required) == (1, False)  # a short delay, no challenge
        world.clock.advance(seconds=1)
        changed = await change(PASSWORD, "Echternach-Abbey-2032")
        assert changed.step.reason == "password changed" and not changed.challenge_required
        assert (await world.store.attempt("current-password", M))["failures"] == 0
        assert (await world.store.attempt("login", M))["failures"] == 30  # the two counts never mix

    world.run(go())
