"""access's service layer over its in-memory store (issue 14): a command is planned, saved, and its effects —
audit entry, grant ends read from the state, notices, outcome, change event — go out once, a redelivery repeating
the same ones under the same ids. The sweeper asks for due ends. No broker, no database."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

from schemas.access import AccessCommandV1, AccessOutcomeV1, DecisionRequest
from services.access.domain import planner
from services.access.domain.directory import ProfessionalCard
from services.access.service import decide as decide_module
from services.access.service.sweeper import Sweeper
from tests.fakes.access import FakeAccess
from tests.inprocess import FakeClock
from tests.support import make_matricule

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
OWNER = make_matricule(date(1980, 5, 17), 11)
PRO = "DR-1"


class World:
    def __init__(self) -> None:
        self.clock = FakeClock(T0)
        fake = FakeAccess(self.clock)
        self.store, self.audit, self.view, self.uc = fake.store, fake.audit, fake.view, fake.uc
        self.outcome, self.changed, self.notify, self.expired, self.command = (
            fake.outcome, fake.changed, fake.notify, fake.expired, fake.command)
        self.service = fake.uc.commands
        self.store.persons[OWNER] = {"_id": OWNER}
        self.view.list_professional(ProfessionalCard(PRO, "Eva", "Roth", "Médecin", None, None, True))

    def handle(self, name: str, actor: dict[str, str] | None = None, **fields: Any) -> AccessOutcomeV1:
        cmd = AccessCommandV1.model_validate({"command": name, "command_id": fields.pop("command_id", f"c-{name}"),
                                              "patient": OWNER, "actor": actor or {"kind": "patient", "id": OWNER},
                                              **fields}).root
        return asyncio.run(self.service.handle(cmd))


def test_an_accepted_command_is_saved_audited_scheduled_and_announced_once() -> None:
    w = World()
    outcome = w.handle("add-to-circle", professional_id=PRO, period_days=30)
    assert outcome.accepted and outcome.reason == "added to the trusted circle"
    assert [e["ends_at"] for e in w.store.expiries.values()] == [T0 + timedelta(days=30)]  # read from the state
    assert w.store.patients[OWNER]["version"] == 1 and w.view.state(OWNER) is not None
    assert [o["command_id"] for o in w.outcome.bodies] == ["c-add-to-circle"]
    assert w.changed.bodies == [{"patient": OWNER, "version": 1}]
    assert [e.action for e in w.audit.chains[OWNER]] == ["add-to-circle"]
    again = w.handle("add-to-circle", professional_id=PRO, period_days=30)  # redelivered: effects done
    assert again == outcome and len(w.outcome.sent) == 1 and len(w.audit.chains[OWNER]) == 1


def test_a_renewed_period_schedules_its_new_end_only() -> None:
    w = World()
    w.handle("add-to-circle", professional_id=PRO, period_days=30)
    w.clock.advance(days=1)
    w.handle("set-access-period", professional_id=PRO, days=90)
    assert sorted(e["ends_at"] for e in w.store.expiries.values()) == [T0 + timedelta(days=30),
                                                                     T0 + timedelta(days=91)]


def test_an_unknown_patients_refusal_is_kept_first_write_wins() -> None:
    w = World()
    del w.store.persons[OWNER]
    refused = w.handle("set-emergency-access", refused=True)
    assert not refused.accepted and refused.reason == "unknown patient" and OWNER not in w.store.patients
    assert w.store.refusals["c-set-emergency-access"]["reason"] == "unknown patient" and not w.changed.sent


def test_a_presence_password_is_set_from_the_hash_access_kept_and_a_forged_one_is_refused() -> None:
    w = World()
    forged = w.handle("generate-presence-password", delivery="none", command_id="p-1")
    assert not forged.accepted and forged.reason == "a presence password is generated through access's API only"
    asyncio.run(w.store.put_pending_presence("p-2", "$argon2id$h", {"sealed_parameters": "box"}, T0, OWNER))
    made = w.handle("generate-presence-password", delivery="letter", command_id="p-2")
    assert made.accepted and w.store.patients[OWNER]["presence_hash"] == "$argon2id$h"
    letter = w.notify.bodies[-1]
    assert letter["template_id"] == "presence-password" and letter["channel"] == "letter"
    assert w.store.presence_pending["p-2"]["sealed"] == {}  # the letter is on its way: the hash alone stays
    asyncio.run(w.store.put_pending_presence("p-3", "$argon2id$other", {}, T0, make_matricule(date(1990, 1, 2), 5)))
    elsewhere = w.handle("generate-presence-password", delivery="none", command_id="p-3")
    assert not elsewhere.accepted  # kept for another patient's command


def test_a_minors_legal_representatives_come_from_accesss_copy_of_the_registry() -> None:
    """The planner is told the patient's guardians (the registry's record, as access keeps it): a guardian is
    accepted as the minor's assistant, another adult refused, whoever asks."""
    w = World()
    child, parent, neighbour = (make_matricule(date(2015, 6, 1), 3), make_matricule(date(1984, 3, 9), 4),
                                make_matricule(date(1979, 8, 2), 5))
    for m in (parent, neighbour):
        w.store.persons[m] = {"_id": m, "guardians": []}
    w.store.persons[child] = {"_id": child, "guardians": [parent]}

    def add(who: str, command_id: str) -> AccessOutcomeV1:
        cmd = AccessCommandV1.model_validate({"command": "add-assistant", "command_id": command_id, "patient": child,
                                              "actor": {"kind": "patient", "id": child}, "assistant": who}).root
        return asyncio.run(w.service.handle(cmd))

    refused = add(neighbour, "a-1")
    assert (refused.accepted, refused.reason) == (False, planner.NOT_A_REPRESENTATIVE)
    accepted = add(parent, "a-2")
    assert accepted.accepted and accepted.details == {"link_ends_at": "2033-06-01T00:00:00.000Z"}
    assert [(e["kind"], e["subject"]) for e in w.store.expiries.values()] == [("assistant", parent)]


def test_the_sweeper_asks_once_for_a_due_end_and_the_end_announces_the_expiry() -> None:
    w = World()
    w.handle("add-to-circle", professional_id=PRO, period_days=1)
    sweeper = Sweeper(w.store, w.view, w.command, w.clock)
    assert asyncio.run(sweeper.sweep()) == 0
    w.clock.advance(days=1)
    assert asyncio.run(sweeper.sweep()) == 1 and asyncio.run(sweeper.sweep()) == 0
    end = AccessCommandV1.model_validate(w.command.bodies[0]).root
    outcome = asyncio.run(w.service.handle(end))
    assert outcome.accepted and outcome.reason == "grant ended"
    assert [(e["grant"], e["subject"]) for e in w.expired.bodies] == [("trusted-circle", PRO)]
    assert [n["template_id"] for n in w.notify.bodies] == ["grant-expired"]
    assert asyncio.run(w.store.grant_counts(w.clock())) == {"active": 0, "expiring_24h": 0, "expired": 1}


def test_a_professional_listed_a_moment_ago_is_known_before_this_replica_reads_the_directory() -> None:
    """The directory's group consumer may store a professional before this replica's view reads the topic: the
    view then looks them up by id; one it has read as deactivated is never revived by an older stored copy."""
    world = World()
    world.store.professionals["DR-NEW"] = {"_id": "DR-NEW", "given_name": "Nora", "family_name": "Schmit",
                                           "profession": "Médecin", "active": True}
    world.store.professionals["DR-OLD"] = {"_id": "DR-OLD", "active": True}  # stored before its deactivation
    world.view.list_professional(ProfessionalCard("DR-OLD", "Ann", "Muller", "Médecin", None, None, False))

    async def known(pro: str) -> bool:
        return await world.view.professional_known(pro)

    assert asyncio.run(known("DR-NEW")) and world.view.display("DR-NEW") == "Nora Schmit (Médecin)"
    assert not asyncio.run(known("DR-OLD"))
    assert not asyncio.run(known("DR-NEVER-LISTED"))
    outcome = world.handle("add-to-circle", professional_id="DR-NEW", command_id="c-new")
    assert outcome.accepted, outcome.reason


def test_a_first_access_is_told_once_even_after_the_pairs_seen_are_forgotten(monkeypatch: Any) -> None:
    """The decision API remembers which (patient, professional) pairs were told of a first access, up to
    `SEEN_MAX`; a pair it forgot asks the store's claim again, which says it was told."""
    w = World()
    second = "DR-2"
    w.view.list_professional(ProfessionalCard(second, "Luc", "Weber", "Médecin", None, None, True))
    for pro in (PRO, second):
        w.handle("add-to-circle", command_id=f"c-{pro}", professional_id=pro, period_days=30)
    monkeypatch.setattr(decide_module, "SEEN_MAX", 1)

    async def reads(*pros: str) -> None:
        for pro in pros:
            answer = await w.uc.decide(DecisionRequest.model_validate(
                {"actor": {"kind": "professional", "id": pro}, "action": "read", "patient": OWNER}))
            assert answer.allowed is True
            await w.uc.first_access.settled()

    asyncio.run(reads(PRO, second, PRO, second))
    told = [b for b in w.notify.bodies if b.get("template_id") == "first-access"]
    assert len(told) == 2 and len(w.uc.first_access._seen) == 1


def test_the_first_catch_up_asks_only_for_what_changed_since_the_snapshot_was_read() -> None:
    """A snapshot whose newest state is days old (nothing changed since): the first catch-up asks for the states
    changed since the snapshot was read, less 30 s of clock skew — not since that old state, which past
    `changes.FULL_READ_AFTER` made the store read every state again right after the start."""
    from services.access.domain import state as ev
    from services.access.service.view import AccessView
    from services.access.store import PatientDoc
    from tests.fakes.access import FakeAccessStore

    store = FakeAccessStore()
    doc = PatientDoc(make_matricule(date(1980, 5, 17), 11))
    ev.apply(doc.access, ev.CircleMemberAdded("DR-1", T0 - timedelta(days=3), None))
    assert asyncio.run(store.save(doc, T0 - timedelta(days=3)))
    asked: list[datetime | None] = []
    versions = store.versions

    def recorded(since: datetime | None = None) -> Any:
        asked.append(since)
        return versions(since)

    store.versions = recorded  # type: ignore[method-assign]
    view = AccessView(store)

    async def run() -> None:
        await view.load(T0)
        assert await view.catch_up(T0 + timedelta(seconds=5)) == 0
        assert await view.catch_up(T0 + timedelta(seconds=10)) == 0

    asyncio.run(run())
    assert asked == [None, T0 - timedelta(seconds=30), T0 + timedelta(seconds=5) - timedelta(seconds=30)]
    assert doc.patient in view.patients and view.synced_until == T0 + timedelta(seconds=10)
