"""The decision use case (`services/access/service/decide.py`) over the in-memory store, view and audit trail, built
by the app's own bootstrap (`tests.fakes.access.FakeAccess`): the view decides, the audit entry is stored before the
answer (not for the owner's own reads), and a professional's first access is told to the patient once — a notice
that could not be sent is tried again at the next decision."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

from schemas.access import AccessCommandV1, AnyCommand, DecisionRequest, DecisionV1
from services.access.domain.directory import ProfessionalCard
from tests.fakes.access import FakeAccess
from tests.inprocess import FakeClock
from tests.support import make_matricule

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
OWNER = make_matricule(date(1980, 5, 17), 11)
PRO, STRANGER = "DR-1", "DR-9"


class World:
    def __init__(self) -> None:
        self.clock = FakeClock(T0)
        self.fake = FakeAccess(self.clock)
        self.uc = self.fake.uc
        self.fake.store.persons[OWNER] = {"_id": OWNER}
        for pro in (PRO, STRANGER):
            self.fake.view.list_professional(ProfessionalCard(pro, "Eva", "Roth", "Médecin", None, None, True))
        outcome = asyncio.run(self.uc.commands.handle(owners("add-to-circle", professional_id=PRO)))
        assert outcome.accepted

    def decide(self, actor: dict[str, str], laps: list[str] | None = None, **fields: Any) -> DecisionV1:
        laps = [] if laps is None else laps
        body = DecisionRequest.model_validate({"actor": actor, "action": "read", "patient": OWNER, **fields})

        async def run() -> DecisionV1:
            answer = await self.uc.decide(body, via="gateway", lap=laps.append)
            await self.uc.first_access.settled()
            return answer

        return asyncio.run(run())

    def told(self) -> list[dict[str, Any]]:
        return [b for b in self.fake.notify.bodies if b["template_id"] == "first-access"]

    def trail(self) -> list[Any]:
        return self.fake.audit.chains.get(OWNER, [])


def owners(name: str, **fields: Any) -> AnyCommand:
    """A command of the patient's own."""
    return AccessCommandV1.model_validate({"command": name, "command_id": f"c-{name}", "patient": OWNER,
                                           "actor": {"kind": "patient", "id": OWNER}, **fields}).root


def test_a_professional_in_the_circle_is_allowed_audited_and_the_patient_told_once() -> None:
    w = World()
    before = len(w.trail())  # the add-to-circle command's own entry
    laps: list[str] = []
    first = w.decide({"kind": "professional", "id": PRO}, laps)
    assert (first.allowed, first.reason, first.grant) == (True, "trusted-circle", "trusted-circle")
    entry = w.trail()[-1]
    assert first.audit_seq == entry.seq == before and (entry.actor_id, entry.action, entry.via) == (PRO, "read",
                                                                                                     "gateway")
    assert entry.allowed and entry.reason == "trusted-circle"
    assert laps == ["decide", "audit"]
    again = w.decide({"kind": "professional", "id": PRO})
    assert again.allowed and again.audit_seq == before + 1  # every decision audited
    told = w.told()
    assert len(told) == 1 and told[0]["recipient"] == OWNER
    assert told[0]["parameters"] == {"professional": "Eva Roth (Médecin)"}


def test_a_professional_without_a_grant_is_refused_audited_and_nobody_is_told() -> None:
    w = World()
    refused = w.decide({"kind": "professional", "id": STRANGER}, document="doc-1")
    assert (refused.allowed, refused.reason, refused.grant) == (False, "no grant for this professional", None)
    entry = w.trail()[-1]
    assert (entry.actor_id, entry.allowed, entry.document) == (STRANGER, False, "doc-1")
    assert w.told() == [] and w.fake.store.first_access == {}


def test_the_owners_own_reads_are_not_audited_and_tell_nobody() -> None:
    w = World()
    before = len(w.trail())
    laps: list[str] = []
    mine = w.decide({"kind": "patient", "id": OWNER}, laps)
    assert (mine.allowed, mine.reason, mine.audit_seq) == (True, "owner", None)
    assert len(w.trail()) == before and w.told() == [] and laps == ["decide"]


def test_a_first_access_notice_that_could_not_be_sent_is_tried_again_at_the_next_decision() -> None:
    w = World()
    sent = w.fake.notify
    failures = [RuntimeError("notify's topic unreachable")]

    async def flaky(body: dict[str, Any], key: bytes | None = None, headers: dict[str, str] | None = None) -> None:
        if failures:
            raise failures.pop()
        await sent(body, key, headers)

    w.uc.first_access.notices.publish = flaky
    assert w.decide({"kind": "professional", "id": PRO}).allowed
    assert w.told() == [] and w.fake.store.first_access == {}  # the marker released: not "told"
    assert w.decide({"kind": "professional", "id": PRO}).allowed
    assert len(w.told()) == 1 and list(w.fake.store.first_access) == [f"{OWNER}|{PRO}"]
    assert w.decide({"kind": "professional", "id": PRO}).allowed
    assert len(w.told()) == 1  # told once


def test_first_accesses_are_gathered_then_claimed_together_off_the_answers_path() -> None:
    """The pairs first seen within `linger_s` are claimed at once (their markers in one group commit, out of the
    audit commits' way in FerretDB's single writer); answers never wait for them; `settled` tells what is due."""
    w = World()
    second = "DR-2"
    w.fake.view.list_professional(ProfessionalCard(second, "Luc", "Weber", "Médecin", None, None, True))
    assert asyncio.run(w.uc.commands.handle(owners("add-to-circle", professional_id=second,
                                                   command_id="c-second"))).accepted
    w.uc.first_access.linger_s = 3600.0  # nothing flushes on its own during this test
    claim, in_flight, most = w.fake.store.claim_first_access, [0], [0]

    async def counted(marker: str, at: datetime) -> bool:
        in_flight[0] += 1
        most[0] = max(most[0], in_flight[0])
        await asyncio.sleep(0)  # a store round trip: the other claims of the flush start meanwhile
        in_flight[0] -= 1
        return await claim(marker, at)

    w.fake.store.claim_first_access = counted  # type: ignore[method-assign]

    async def run() -> None:
        for pro in (PRO, second, PRO):
            body = DecisionRequest.model_validate({"actor": {"kind": "professional", "id": pro}, "action": "read",
                                                   "patient": OWNER})
            assert (await w.uc.decide(body, via="gateway")).allowed
        await asyncio.sleep(0)
        assert w.fake.store.first_access == {} and w.told() == []  # gathered, not claimed yet
        await w.uc.first_access.settled()

    asyncio.run(run())
    assert sorted(w.fake.store.first_access) == sorted([f"{OWNER}|{PRO}", f"{OWNER}|{second}"])
    assert len(w.told()) == 2 and most[0] == 2  # both claims under way together: one commit of markers
