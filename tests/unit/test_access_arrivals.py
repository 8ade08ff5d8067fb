"""A patient acting seconds after her registration, before access has read her from `registry.persons.v1`
(activation and access read the registry each on its own): access holds her command until she arrives — woken the
moment this replica stores her, or finding her at a later look when another replica did — then answers it for her;
one who never arrives is refused as an unknown patient once the bound has passed. Over the in-memory store."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime

from schemas.access import AccessCommandV1, AccessOutcomeV1
from schemas.registry import PersonRegisteredV1
from tests.fakes.access import FakeAccess
from tests.inprocess import FakeClock
from tests.support import make_matricule, person

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
NEWCOMER = make_matricule(date(1990, 3, 14), 21)


def command(command_id: str = "c-1") -> AccessCommandV1:
    return AccessCommandV1.model_validate({"command": "set-emergency-access", "command_id": command_id,
                                           "patient": NEWCOMER, "actor": {"kind": "patient", "id": NEWCOMER},
                                           "refused": True})


async def timed(fake: FakeAccess, arrival: asyncio.Task[None] | None = None) -> tuple[AccessOutcomeV1, float]:
    started = time.monotonic()
    outcome = await fake.uc.commands.handle(command().root)
    if arrival is not None:
        await arrival
    return outcome, time.monotonic() - started


def test_a_command_about_a_person_registered_a_moment_later_is_answered_for_her() -> None:
    fake = FakeAccess(FakeClock(T0), person_wait_s=2.0)

    async def registered_later() -> None:  # as the registry.persons.v1 handler of this replica stores her
        await asyncio.sleep(0.1)
        await fake.uc.registry.person_registered(PersonRegisteredV1.model_validate(person(NEWCOMER)))

    async def scenario() -> tuple[AccessOutcomeV1, float]:
        return await timed(fake, asyncio.create_task(registered_later()))

    outcome, took = asyncio.run(scenario())
    assert outcome.accepted and outcome.reason == "emergency access refused"
    assert fake.store.patients[NEWCOMER]["version"] == 1
    assert 0.1 <= took < 1.0  # woken when she arrived, not at the 2 s bound
    assert not fake.uc.commands.arrivals._waiting  # nothing left held


def test_a_person_another_replica_stored_is_found_at_a_later_look() -> None:
    fake = FakeAccess(FakeClock(T0), person_wait_s=2.0)

    async def stored_elsewhere() -> None:  # in the database, with no arrival on this replica
        await asyncio.sleep(0.15)
        fake.store.persons[NEWCOMER] = {"_id": NEWCOMER}

    async def scenario() -> tuple[AccessOutcomeV1, float]:
        return await timed(fake, asyncio.create_task(stored_elsewhere()))

    outcome, took = asyncio.run(scenario())
    assert outcome.accepted
    assert 0.15 <= took < 1.0  # the look at 0.3 s found her


def test_a_person_who_never_arrives_is_an_unknown_patient_once_the_bound_has_passed() -> None:
    fake = FakeAccess(FakeClock(T0), person_wait_s=0.4)
    outcome, took = asyncio.run(timed(fake))
    assert not outcome.accepted and outcome.reason == "unknown patient"
    assert NEWCOMER not in fake.store.patients and fake.store.refusals["c-1"]["reason"] == "unknown patient"
    assert 0.4 <= took < 1.5
    assert not fake.uc.commands.arrivals._waiting


def test_a_known_patient_is_not_held() -> None:
    fake = FakeAccess(FakeClock(T0), person_wait_s=2.0)
    fake.store.persons[NEWCOMER] = {"_id": NEWCOMER}
    outcome, took = asyncio.run(timed(fake))
    assert outcome.accepted and took < 0.5
