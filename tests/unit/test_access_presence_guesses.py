"""Presence-password guesses per patient (issue 24, "Trust II"): besides 5 wrong tries per professional per patient,
10 on one patient's password from every professional together per sliding hour — six professionals got 30
evaluated before — then tries are paused until the hour slides or the patient makes a new password; she is told at
the 3rd and the 10th, in the portal and on her own channel. Access's presence API over the in-memory store, the
argon2 check real; time moves on a FakeClock."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from schemas.access import PresenceRedeemRequest
from services.access.domain import planner, presence
from services.access.domain.directory import ProfessionalCard
from services.access.service import presence as passwords
from tests.fakes.access import FakeAccess, FakeAccessStore
from tests.inprocess import FakeClock
from tests.support import make_matricule

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
PATIENT = make_matricule(date(1980, 5, 17), 11)
PROS = [f"DR-{i}" for i in range(6)]
RIGHT, WRONG = "ABCD-EFGH", "ZZZZ-ZZZZ"


class World:
    def __init__(self) -> None:
        self.clock = FakeClock(T0)
        fake = FakeAccess(self.clock)
        self.store, self.audit, self.notify, self.command = fake.store, fake.audit, fake.notify, fake.command
        self.view, self.passwords = fake.view, fake.uc.presence
        self.store.persons[PATIENT] = {"_id": PATIENT}
        for pro in PROS:
            self.view.list_professional(ProfessionalCard(pro, "Eva", "Roth", "Médecin", None, None, True))

    async def set_password(self, password: str = RIGHT) -> None:
        doc = await self.store.load(PATIENT)
        doc.presence_hash = await passwords.hash_password(password)
        assert await self.store.save(doc, self.clock())

    async def redeem(self, pro: str, password: str = WRONG) -> tuple[int, Any]:
        body = {"command_id": f"r-{uuid.uuid4().hex}", "patient": PATIENT, "professional_id": pro,
                "password": password}
        return await self.passwords.redeem(PresenceRedeemRequest.model_validate(body))

    def evaluated_wrong(self) -> int:
        """Wrong guesses the API evaluated on the patient (each one audited)."""
        return sum(1 for e in self.audit.chains.get(PATIENT, []) if e.reason == "wrong presence password")

    def told(self) -> list[tuple[str, str, str]]:
        return [(n["template_id"], n["channel"], n["parameters"].get("failures", "")) for n in self.notify.bodies]


def test_six_professionals_get_ten_guesses_on_one_patient_in_the_hour_and_she_is_told() -> None:
    async def scenario() -> None:
        w = World()
        await w.set_password()
        answers = [await w.redeem(pro) for pro in PROS for _ in range(5)]  # the finding: 6 x 5 = 30 tries
        assert [status for status, _ in answers].count(403) == 10 and w.evaluated_wrong() == 10
        assert all(a == (429, {"detail": planner.PAUSED}) for a in answers[10:])
        assert w.told() == [("presence-password-guesses", "inapp", "3"),
                            ("presence-password-guesses", "preferred", "3"),
                            ("presence-password-guesses-paused", "inapp", "10"),
                            ("presence-password-guesses-paused", "preferred", "10")]
        assert (await w.redeem(PROS[5], RIGHT)) == (429, {"detail": planner.PAUSED})  # not evaluated: paused

        w.clock.advance(minutes=59, seconds=59)
        assert (await w.redeem(PROS[5], RIGHT))[0] == 429  # the window has not slid yet
        w.clock.advance(seconds=1)  # the first wrong guesses leave the sliding hour
        status, answer = await w.redeem(PROS[5], RIGHT)
        assert status == 202 and w.command.bodies[-1]["command"] == "redeem-presence-password"
        assert answer == {"command_id": w.command.bodies[-1]["command_id"]}

    asyncio.run(scenario())


def test_a_new_password_made_by_the_present_patient_starts_its_own_count() -> None:
    async def scenario() -> None:
        w = World()
        await w.set_password()
        for pro in PROS[:2]:
            for _ in range(5):
                await w.redeem(pro)
        assert (await w.redeem(PROS[2], RIGHT)) == (429, {"detail": planner.PAUSED})
        await w.set_password("HJKM-NPQR")  # what the portal's "new presence password" makes the patient's
        assert (await w.redeem(PROS[2], "HJKM-NPQR"))[0] == 202
        # the professionals' own caps stay: DR-0 had 5 wrong guesses on this patient within the hour
        assert (await w.redeem(PROS[0], "HJKM-NPQR"))[1]["detail"].startswith("too many wrong presence passwords "
                                                                               "for this patient; try again")

    asyncio.run(scenario())


def test_concurrent_tries_never_pass_the_patients_cap() -> None:
    """20 tries at once from four professionals: each patient's tries are taken in turn, so exactly 10 are
    evaluated and the patient is told once at the 3rd and once at the 10th."""
    async def scenario() -> None:
        w = World()
        await w.set_password()
        answers = await asyncio.gather(*(w.redeem(PROS[i % 4]) for i in range(20)))
        assert sorted(status for status, _ in answers) == [403] * 10 + [429] * 10
        assert w.evaluated_wrong() == 10 == len({e.seq for e in w.audit.chains[PATIENT]})
        assert [t for t, channel, _ in w.told() if channel == "inapp"] == ["presence-password-guesses",
                                                                          "presence-password-guesses-paused"]

    asyncio.run(scenario())


def test_the_counters_keys_name_no_secret_and_tell_passwords_apart() -> None:
    first, second = "$argon2id$v=19$m=7168,t=5,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=7168,t=5,p=1$c2FsdB$aGFzaB"
    assert presence.professional_key("DR-1", PATIENT) == f"DR-1|{PATIENT}"  # as stored before this change
    key = presence.patient_key(PATIENT, first)
    assert key.startswith(f"{PATIENT}|password-") and first not in key and "argon2" not in key
    assert key != presence.patient_key(PATIENT, second) and key == presence.patient_key(PATIENT, first)
    assert presence.patient_key(PATIENT, None) != key


def test_wrong_guesses_are_counted_in_the_sliding_hour_only() -> None:
    async def scenario() -> None:
        store = FakeAccessStore()
        key = presence.patient_key(PATIENT, None)
        for minute in range(0, 90, 10):
            await store.presence_failed([key], T0 + timedelta(minutes=minute), f"r-{minute}")
        await store.presence_failed([key], T0, "r-0")  # the same guess again: counted once
        now = T0 + timedelta(minutes=90)
        assert await store.presence_failures_since(key, now - presence.WINDOW) == 5  # 40, 50, 60, 70, 80
        assert await store.presence_failures_since("elsewhere", now - presence.WINDOW) == 0

    asyncio.run(scenario())
