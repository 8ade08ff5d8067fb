"""Presence passwords generated once (`services/access/service/presence.py`): the patient's own (through access's
API) and the agency's on activation go through the same step — a new password, only its argon2 hash kept with the
letter sealed to notify under the command id, and an internal `generate-presence-password` command without the
secret — then the command applies the kept hash and posts the letter once. Over the in-memory fakes, built by the
app's bootstrap (`tests.fakes.access.FakeAccess`)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from typing import Any

from schemas.access import AccessCommandV1, PresenceGenerateRequest
from schemas.activation import AccountActivatedV1
from services.access.domain.directory import agency_command_id
from services.access.service import presence as passwords
from services.kit.sealing import request_binding, unseal
from tests.fakes.access import FakeAccess
from tests.inprocess import FakeClock
from tests.support import TEST_NOTIFY_PUBLIC_KEY, TEST_NOTIFY_SEAL_KEY, make_matricule

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
PATIENT, STRANGER = make_matricule(date(1980, 5, 17), 11), make_matricule(date(1984, 3, 9), 13)


def world() -> FakeAccess:
    fake = FakeAccess(FakeClock(T0), notify_key=TEST_NOTIFY_PUBLIC_KEY)
    fake.store.persons[PATIENT] = {"_id": PATIENT}
    return fake


def generate(fake: FakeAccess, command_id: str, actor: str = PATIENT, delivery: str = "letter") -> tuple[int, Any]:
    body = PresenceGenerateRequest.model_validate({"command_id": command_id, "patient": PATIENT, "delivery": delivery,
                                                   "actor": {"kind": "patient", "id": actor}})
    return asyncio.run(fake.uc.presence.generate(body))


def apply_sent(fake: FakeAccess) -> list[Any]:
    """The consumer's side: every internal command sent so far, applied (as the patient's partition owner does)."""
    return [asyncio.run(fake.uc.commands.handle(AccessCommandV1.model_validate(body).root))
            for body in fake.command.bodies]


def letter_password(fake: FakeAccess, request: dict[str, Any]) -> str:
    binding = request_binding(request["request_id"], request["channel"], request["recipient"], None)
    return str(unseal(TEST_NOTIFY_SEAL_KEY, request["sealed_parameters"], bound_to=binding)["password"])


def test_the_patients_password_is_answered_once_kept_as_a_hash_and_posted_sealed() -> None:
    fake = world()
    status, answer = generate(fake, "gen-1")
    assert status == 202 and answer["command_id"] == "gen-1"
    password = answer["presence_password"]
    kept = fake.store.presence_pending["gen-1"]
    assert asyncio.run(passwords.matches(kept["hash"], password)) and password not in json.dumps(kept, default=str)
    sent = fake.command.bodies
    assert [c["command"] for c in sent] == ["generate-presence-password"] and password not in json.dumps(sent)
    assert generate(fake, "gen-1") == (409, {"detail": "this command id was already used; send a new one"})
    assert fake.store.presence_pending["gen-1"]["hash"] == kept["hash"]  # the first one stands
    assert [o.accepted for o in apply_sent(fake)] == [True]
    assert fake.store.patients[PATIENT]["presence_hash"] == kept["hash"]
    [letter] = [b for b in fake.notify.bodies if b["template_id"] == "presence-password"]
    assert letter_password(fake, letter) == password
    assert fake.store.presence_pending["gen-1"]["sealed"] == {}  # the letter is on its way: the hash only


def test_only_the_patient_or_an_assistant_makes_one() -> None:
    fake = world()
    status, answer = generate(fake, "gen-2", actor=STRANGER)
    assert status == 403 and answer == {"detail": "not the owner nor a DSP assistant of this record"}
    assert fake.store.presence_pending == {} and fake.command.sent == []


def test_the_agencys_password_on_activation_is_made_the_same_way_and_posted_once() -> None:
    fake = world()
    event = AccountActivatedV1(event_id="act-1", matricule=PATIENT, minor=False, luxtrust=False, activated_at=T0)
    command_id = asyncio.run(fake.uc.presence.issue(event))
    assert command_id == agency_command_id(event)
    kept = fake.store.presence_pending[command_id]
    assert asyncio.run(fake.uc.presence.issue(event)) == command_id  # redelivered before it was applied
    assert fake.store.presence_pending[command_id]["hash"] == kept["hash"]  # not replaced
    assert [o.accepted for o in apply_sent(fake)] == [True, True]  # the same command twice: applied once
    letters = [b for b in fake.notify.bodies if b["template_id"] == "presence-password"]
    assert len(letters) == 1 and letters[0]["channel"] == "letter"
    assert asyncio.run(passwords.matches(kept["hash"], letter_password(fake, letters[0])))
    sent = len(fake.command.sent)
    assert asyncio.run(fake.uc.presence.issue(event)) == command_id  # after its effects: nothing more
    assert len(fake.command.sent) == sent
