"""The console's operators, sessions, login slow-down and audit trail over its in-memory store
(tests/fakes/console.py), on a FakeClock: a password checked (the same answer shape for an unknown name), a session
that slides while used, ends when idle, at its absolute end, on logout and when the operator's password changes; the
slow-down per typed name; an audit entry completed in place. The real FerretDB and browser: tests/integration/
test_console.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.console.domain.operators import ABSOLUTE, IDLE, NotLoggedIn, Operator, OperatorExists
from services.console.service.audit import Audit
from services.console.service.operators import Operators
from services.console.service.sessions import Sessions
from services.console.service.throttle import LoginThrottle
from tests.fakes.console import FakeConsoleStore
from tests.inprocess import FakeClock

PASSWORD = "correct-horse-battery"


@pytest.fixture
def world() -> tuple[FakeConsoleStore, FakeClock, Operators, Sessions]:
    store, clock = FakeConsoleStore(), FakeClock(datetime(2026, 12, 7, 9, tzinfo=UTC))
    operators = Operators(store, clock)
    return store, clock, operators, Sessions(store, operators, clock)


async def test_operators_are_created_once_checked_by_password_and_listed_without_their_hash(
        world: tuple[FakeConsoleStore, FakeClock, Operators, Sessions]) -> None:
    store, _, operators, _ = world
    assert await operators.add("ana", "replayer", PASSWORD) == "created"
    with pytest.raises(OperatorExists):
        await operators.add("ana", "viewer", "another-password-1")
    found, known = await operators.verify("ana", PASSWORD)
    assert found == Operator("ana", "replayer") and known
    assert await operators.verify("ana", "wrong-password-12") == (None, True)
    assert await operators.verify("nobody", PASSWORD) == (None, False)
    assert PASSWORD not in str(store.operator_docs)  # an argon2 hash only
    [listed] = await operators.all()
    assert set(listed) == {"name", "role", "created_at"} and listed["role"] == "replayer"


async def test_a_session_slides_while_used_and_ends_idle_absolute_on_logout_or_a_new_password(
        world: tuple[FakeConsoleStore, FakeClock, Operators, Sessions]) -> None:
    store, clock, operators, sessions = world
    await operators.add("ana", "viewer", PASSWORD)
    ana, _ = await operators.verify("ana", PASSWORD)
    assert ana is not None
    token, opened = await sessions.open(ana)
    assert token not in str(store.sessions)  # the database holds its digest only
    created = clock.now
    while clock.now + timedelta(minutes=20) < created + ABSOLUTE:  # used every 20 minutes: it slides
        clock.advance(minutes=20)
        found = await sessions.find(token)
        assert found.operator.name == "ana" and found.csrf_matches(opened.csrf) and not found.csrf_matches("x")
    clock.set(created + ABSOLUTE)  # in use, yet at its absolute end
    with pytest.raises(NotLoggedIn, match="expired"):
        await sessions.find(token)

    token, _ = await sessions.open(ana)
    clock.advance(seconds=IDLE.total_seconds() + 1)
    with pytest.raises(NotLoggedIn, match="expired"):
        await sessions.find(token)
    token, session = await sessions.open(ana)
    await sessions.revoke(session)
    with pytest.raises(NotLoggedIn, match="not logged in"):
        await sessions.find(token)
    token, _ = await sessions.open(ana)
    await operators.add("ana", "replayer", "a-new-password-1", replace=True)
    with pytest.raises(NotLoggedIn):
        await sessions.find(token)
    with pytest.raises(NotLoggedIn):
        await sessions.find("not a token")


async def test_the_slow_down_counts_per_typed_name_and_an_audit_entry_is_completed_in_place() -> None:
    store, clock = FakeConsoleStore(), FakeClock(datetime(2026, 12, 7, 9, tzinfo=UTC))
    throttle = LoginThrottle(store, clock)
    assert [await throttle.failed("ana") for _ in range(4)] == [1, 2, 3, 4]
    assert await throttle.wait_s("ana") == 4 and await throttle.wait_s("ben") == 0
    clock.advance(seconds=4)
    assert await throttle.wait_s("ana") == 0
    await throttle.succeeded("ana")
    assert await throttle.failed("ana") == 1  # counted again from one
    clock.advance(hours=2)
    assert await throttle.failed("ana") == 1  # forgotten after an hour without a failure
    audit = Audit(store, clock)
    entry = await audit.record("replay", "ana", topic="lab.results.v1.dlq")
    await audit.complete(entry, outcome="replayed")
    assert store.audit[entry] == {"_id": entry, "action": "replay", "operator": "ana", "at": clock.now,
                                  "topic": "lab.results.v1.dlq", "outcome": "replayed"}
