"""access's read API for the portal on the real stack (Kafka + FerretDB), called as the gateway calls it: the DSPs a
person assists, the person lookup before adding an assistant, professionals named everywhere a person reads them,
the audit trail for the patient (cursor-paged, no chain internals), the professional directory, the kept
break-the-glass justification, and the agency's presence password posted by letter once per activated account."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from schemas.fields import rfc3339
from services.access.domain.planner import majority
from services.access.service import presence as passwords
from services.kit.paging import encode_cursor
from services.kit.sealing import request_binding, unseal
from tests.inprocess import FakeClock, InProcessWorker
from tests.integration.access_support import Gateway, TopicReader, access_worker, fresh_matricule
from tests.support import TEST_NOTIFY_SEAL_KEY, encode, eventually, kafka_options, make_matricule, person

ADULT, ELDER, CHILD_1, CHILD_2 = date(1980, 5, 17), date(1950, 1, 9), date(2015, 6, 1), date(2017, 2, 3)
DATE_KEYS = {"at", "since", "granted_at", "ends_at"}


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def prefix(run_id: str) -> str:
    return f"{run_id}acapi"


@pytest.fixture(scope="module")
def access(infra: Any, prefix: str, clock: FakeClock) -> Iterator[InProcessWorker]:
    worker = access_worker(infra, prefix, clock, secrets.token_hex(24)).start()
    yield worker
    worker.stop()


@pytest.fixture
async def gw(access: InProcessWorker, producer: AIOKafkaProducer, infra: Any,
             clock: FakeClock) -> AsyncIterator[Gateway]:
    clock.set(datetime.now(clock.now.tzinfo).replace(microsecond=0))
    outcomes = await TopicReader(infra.bootstrap, "access.events.v1").start()
    yield Gateway(producer, outcomes, access)
    await outcomes.stop()


@pytest.fixture
def db(mongo: AsyncMongoClient[dict[str, Any]], prefix: str) -> AsyncDatabase[dict[str, Any]]:
    return mongo[f"{prefix}_access"]


@pytest.fixture
async def notices(infra: Any) -> AsyncIterator[TopicReader]:
    reader = await TopicReader(infra.bootstrap, "notify.requests.v1").start()
    yield reader
    await reader.stop()


class Registry:
    """Publishes persons and professionals as the registry and the directory do, and waits until access has them."""

    def __init__(self, gw: Gateway, db: AsyncDatabase[dict[str, Any]], unique: str) -> None:
        self.gw, self.db, self.unique, self.count = gw, db, unique, 0

    async def person(self, born: date, given: str, family: str, guardians: tuple[str, ...] = ()) -> str:
        self.count += 1
        m = fresh_matricule(born, int(self.unique[:4], 16) + self.count * 7)
        body = person(m, f"reg-{self.unique}-{m}", given_name=given, family_name=family, guardians=list(guardians))
        await self.gw.producer.send_and_wait("registry.persons.v1", encode(body), key=m.encode())
        await eventually(lambda: self.db["persons"].find_one({"_id": m, "family_name": family}))
        return m

    async def professional(self, pro: str, given: str, family: str, specialty: str | None = "Médecine générale",
                           active: bool = True, profession: str = "Médecin") -> str:
        body = {"message_id": f"dir-{pro}-{active}", "professional_id": pro, "given_name": given,
                "family_name": family, "profession": profession, "specialty": specialty, "practice_id": "CAB-1",
                "active": active}
        await self.gw.producer.send_and_wait("directory.professionals.v1", encode(body), key=pro.encode())
        await eventually(lambda: _listed(self.gw, pro, active))  # the view (every replica) knows them
        return pro


async def _listed(gw: Gateway, pro: str, active: bool) -> bool:
    status, found = await gw.post("/v1/professionals/get", {"professional_id": pro})
    return status == 200 and found["listed"] and found["active"] is active


def me(patient: str) -> tuple[str, str]:
    return ("patient", patient)


def dates_of(answer: Any) -> list[str]:
    """Every date-time value in an answer (keys at, since, granted_at, ends_at), however deep."""
    if isinstance(answer, dict):
        return [v for k, v in answer.items() if k in DATE_KEYS and isinstance(v, str)] + [
            d for v in answer.values() for d in dates_of(v)]
    if isinstance(answer, list):
        return [d for v in answer for d in dates_of(v)]
    return []


async def test_a_parent_sees_the_dsps_they_assist_with_names(gw: Gateway, db: Any, unique: str,
                                                             clock: FakeClock) -> None:
    reg = Registry(gw, db, unique)
    parent = await reg.person(ADULT, "Marc", "Schmit")
    lea = await reg.person(CHILD_1, "Léa", "Schmit", guardians=(parent,))
    tom = await reg.person(CHILD_2, "Tom", "Schmit", guardians=(parent,))
    friend, former = await reg.person(ELDER, "Jean", "Muller"), await reg.person(ELDER, "Rita", "Kass")
    stranger = await reg.person(ADULT, "Nora", "Bley")
    for patient in (lea, tom, friend, former):
        assert (await gw.run(patient, "add-assistant", me(patient), assistant=parent))["accepted"]
    assert (await gw.run(former, "remove-assistant", me(former), assistant=parent))["accepted"]  # ended: not listed

    status, page = await gw.post("/v1/assisted", {"user": parent})
    assert status == 200 and page["next_cursor"] is None
    assert [(i["patient"], i["name"], i["kind"]) for i in page["items"]] == [
        (friend, "Jean Muller", "designated-assistant"), (lea, "Léa Schmit", "parent-of-minor"),
        (tom, "Tom Schmit", "parent-of-minor")]  # by matricule
    by_patient = {i["patient"]: i for i in page["items"]}
    assert by_patient[lea]["ends_at"] == rfc3339(majority(lea)) and by_patient[friend]["ends_at"] is None
    assert {i["since"] for i in page["items"]} == {rfc3339(clock())}

    first = (await gw.post("/v1/assisted", {"user": parent, "limit": 2}))[1]
    rest = (await gw.post("/v1/assisted", {"user": parent, "limit": 2, "cursor": first["next_cursor"]}))[1]
    assert [i["patient"] for i in first["items"] + rest["items"]] == [friend, lea, tom] and rest["next_cursor"] is None
    assert (await gw.post("/v1/assisted", {"user": stranger}))[1] == {"items": [], "next_cursor": None}
    status, refused = await gw.post("/v1/assisted", {"user": parent, "cursor": "not-a-cursor"})
    assert status == 422 and refused["errors"][0]["loc"] == ["cursor"]

    status, state = await gw.post("/v1/access-state", {"actor": {"kind": "patient", "id": parent}, "patient": lea})
    assert status == 200 and [(a["matricule"], a["name"], a["kind"]) for a in state["assistants"]] == [
        (parent, "Marc Schmit", "parent-of-minor")]  # the parent, acting for the child, sees the child's DSP


async def test_the_person_lookup_names_a_registered_adult_and_nobody_else(gw: Gateway, db: Any, unique: str) -> None:
    reg = Registry(gw, db, unique)
    patient = await reg.person(ADULT, "Paul", "Thill")
    helper, minor = await reg.person(ELDER, "Claire", "Wagner"), await reg.person(CHILD_1, "Zoé", "Thill")
    nobody = make_matricule(date(1971, 2, 3), int(unique[4:7], 16) % 1000)
    actor = {"kind": "patient", "id": patient}

    status, found = await gw.post("/v1/persons/lookup", {"actor": actor, "matricule": helper})
    assert (status, found) == (200, {"matricule": helper, "name": "Claire Wagner"})
    unknown = await gw.post("/v1/persons/lookup", {"actor": actor, "matricule": nobody})
    child = await gw.post("/v1/persons/lookup", {"actor": actor, "matricule": minor})
    assert unknown == child == (404, {"detail": "no registered adult with this matricule"})  # one answer for both
    mistyped = nobody[:-1] + str((int(nobody[-1]) + 1) % 10)
    status, _ = await gw.post("/v1/persons/lookup", {"actor": actor, "matricule": mistyped})
    assert status == 422  # check digits are arithmetic, not a registry answer
    status, _ = await gw.post("/v1/persons/lookup", {"actor": {"kind": "professional", "id": "DR-1"},
                                                     "matricule": helper})
    assert status == 403
    assert (await gw.run(patient, "add-assistant", me(patient), assistant=helper))["accepted"]  # then as today


async def test_break_the_glass_keeps_the_justification_for_the_patient(gw: Gateway, db: Any, unique: str,
                                                                      notices: TopicReader) -> None:
    reg = Registry(gw, db, unique)
    er = await reg.professional(f"ER-{unique}", "Eva", "Roth", specialty="Urgences")
    patient = await reg.person(ADULT, "Gilles", "Reuter")
    why = "Patient unconscious after a road accident, allergies unknown"
    assert (await gw.run(patient, "break-the-glass", ("professional", er), justification=why))["accepted"]
    assert (await gw.decide(("professional", er), patient, document="doc-1"))["reason"] == "emergency"

    status, trail = await gw.post("/v1/audit", {"actor": {"kind": "patient", "id": patient}, "patient": patient})
    assert status == 200
    read, glass = trail["items"]  # newest first
    assert (glass["action"], glass["allowed"], glass["justification"]) == ("break-the-glass", True, why)
    assert glass["who"] == {"kind": "professional", "id": er, "name": "Eva Roth", "profession": "Médecin",
                            "specialty": "Urgences"}
    assert (read["action"], read["document_id"], read["justification"]) == ("read", "doc-1", None)
    notice = await notices.wait(recipient=patient, template_id="emergency-access-used")
    assert notice["parameters"] == {"professional": "Eva Roth (Médecin, Urgences)", "justification": why}


async def test_professionals_are_named_in_the_state_the_audit_trail_and_patients_of(
        gw: Gateway, db: Any, unique: str, clock: FakeClock, notices: TopicReader) -> None:
    reg = Registry(gw, db, unique)
    dr = await reg.professional(f"DR-{unique}", "Luc", "Kremer")
    blocked = await reg.professional(f"BL-{unique}", "Anne", "Weber", specialty="Pédiatrie")
    patient = await reg.person(ADULT, "Sophie", "Hansen")
    helper = await reg.person(ELDER, "Marc", "Hansen")
    for command, fields in (("add-to-circle", {"professional_id": dr, "period_days": 30}),
                            ("set-referring-gp", {"professional_id": dr}),
                            ("block-professional", {"professional_id": blocked}),
                            ("add-assistant", {"assistant": helper}),
                            ("record-consent", {"consent": "organ-donation", "value": True})):
        assert (await gw.run(patient, command, me(patient), **fields))["accepted"], command
    kremer = {"professional_id": dr, "name": "Luc Kremer", "profession": "Médecin", "specialty": "Médecine générale"}
    now = rfc3339(clock())

    status, state = await gw.post("/v1/access-state", {"actor": {"kind": "patient", "id": helper},
                                                       "patient": patient})
    assert status == 200
    assert state["grants"] == [{**kremer, "kind": "trusted-circle", "granted_at": now,
                                "ends_at": rfc3339(clock() + timedelta(days=30))}]
    assert state["referring_gp"] == kremer
    assert state["blocked_professionals"] == [{"professional_id": blocked, "name": "Anne Weber",
                                               "profession": "Médecin", "specialty": "Pédiatrie"}]
    assert state["assistants"] == [{"matricule": helper, "name": "Marc Hansen", "kind": "designated-assistant",
                                    "since": now, "ends_at": None}]
    assert state["consents"] == [{"consent": "organ-donation", "value": True, "at": now, "by": patient}]

    assert (await gw.decide(("professional", dr), patient, document="doc-7"))["reason"] == "referring GP"
    first = await notices.wait(recipient=patient, template_id="first-access")
    assert first["parameters"] == {"professional": "Luc Kremer (Médecin, Médecine générale)"}
    status, trail = await gw.post("/v1/audit", {"actor": {"kind": "patient", "id": patient}, "patient": patient})
    assert status == 200
    assert trail["items"][0]["who"] == {"kind": "professional", **{k: v for k, v in kremer.items()
                                                                   if k != "professional_id"}, "id": dr}
    assert {e["who"]["name"] for e in trail["items"][1:]} == {"Sophie Hansen"}  # the owner's commands
    status, mine = await gw.post("/v1/patients-of", {"professional_id": dr})
    assert status == 200 and mine["professional"] == kremer and mine["next_cursor"] is None
    assert mine["items"] == [{"patient": patient, "name": "Sophie Hansen", "grant": "referring GP", "since": now,
                              "ends_at": rfc3339(clock() + timedelta(days=30))}]

    answers = [state, trail["items"], mine["items"]]
    assert len(dates_of(answers)) >= 10 and all(d.endswith("Z") and "T" in d for d in dates_of(answers))


async def test_the_audit_trail_pages_by_cursor_without_gaps_or_repeats(gw: Gateway, db: Any, unique: str) -> None:
    reg = Registry(gw, db, unique)
    dr = await reg.professional(f"DR-{unique}", "Luc", "Kremer")
    patient = await reg.person(ADULT, "Ines", "Frisch")
    assert (await gw.run(patient, "add-to-circle", me(patient), professional_id=dr))["accepted"]
    for i in range(7):
        assert (await gw.decide(("professional", dr), patient, document=f"doc-{i}"))["allowed"]
    query = {"actor": {"kind": "patient", "id": patient}, "patient": patient, "limit": 3}

    seen, cursor, pages = [], None, 0
    while True:
        status, page = await gw.post("/v1/audit", {**query, **({"cursor": cursor} if cursor else {})})
        assert status == 200
        if pages == 0:  # an entry appended while the patient pages: it is above the first page, never in a later one
            assert (await gw.decide(("professional", dr), patient, document="doc-late"))["allowed"]
        seen += page["items"]
        pages, cursor = pages + 1, page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert [e["document_id"] for e in seen] == [f"doc-{i}" for i in reversed(range(7))] + [None]
    assert seen[-1]["action"] == "add-to-circle"
    for entry in seen:
        assert set(entry) == {"at", "who", "action", "document_id", "allowed", "reason", "justification"}
        assert not {"hash", "prev_hash", "seq"} & set(entry) and entry["at"].endswith("Z")
    newest = (await gw.post("/v1/audit", query))[1]["items"][0]
    assert newest["document_id"] == "doc-late"

    for forged in ("%%%", encode_cursor("patients-of", patient), encode_cursor("audit", "7")):
        status, refused = await gw.post("/v1/audit", {**query, "cursor": forged})
        assert status == 422 and refused["errors"][0]["loc"] == ["cursor"]


async def test_the_professional_directory_is_searched_and_read_through_access(gw: Gateway, db: Any,
                                                                           unique: str) -> None:
    reg = Registry(gw, db, unique)
    ana = await reg.professional(f"PA-{unique}", "Ana", f"Zed{unique}a")
    ben = await reg.professional(f"PB-{unique}", "Ben", f"zed{unique}b", specialty=None, profession="Infirmier")
    cem = await reg.professional(f"PC-{unique}", "Cem", f"Zéd{unique}c")  # accents ignored
    gone = await reg.professional(f"PD-{unique}", "Dan", f"Zed{unique}d")
    await reg.professional(gone, "Dan", f"Zed{unique}d", active=False)  # left the directory

    first = await gw.post("/v1/professionals/search", {"q": f"  ZED{unique} ", "limit": 2})
    assert first[0] == 200
    assert first[1]["items"][0] == {"professional_id": ana, "given_name": "Ana", "family_name": f"Zed{unique}a",
                                    "name": f"Ana Zed{unique}a", "profession": "Médecin",
                                    "specialty": "Médecine générale", "practice_id": "CAB-1"}
    rest = await gw.post("/v1/professionals/search", {"q": f"zed{unique}", "limit": 2,
                                                      "cursor": first[1]["next_cursor"]})
    found = [p["professional_id"] for p in first[1]["items"] + rest[1]["items"]]
    assert found == [ana, ben, cem] and rest[1]["next_cursor"] is None  # the inactive one is not offered
    assert [p["professional_id"] for p in (await gw.post("/v1/professionals/search", {"q": "Ana"}))[1]["items"]
            if p["professional_id"].endswith(unique)] == [ana]  # by given name too

    assert (await gw.post("/v1/professionals/get", {"professional_id": ben}))[1] == {
        "professional_id": ben, "listed": True, "active": True, "name": f"Ben zed{unique}b", "profession": "Infirmier",
        "specialty": None}
    assert (await gw.post("/v1/professionals/get", {"professional_id": gone}))[1]["active"] is False
    assert (await gw.post("/v1/professionals/get", {"professional_id": f"NOPE-{unique}"}))[1] == {
        "professional_id": f"NOPE-{unique}", "listed": False, "active": False, "name": None, "profession": None,
        "specialty": None}
    for bad in ({"q": "z"}, {"q": "x" * 61}, {"q": f"zed{unique}", "limit": 51}, {"q": "zed", "cursor": "%%"}):
        assert (await gw.post("/v1/professionals/search", bad))[0] == 422, bad


async def _committed(bootstrap: str, group: str, partition: TopicPartition) -> int:
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    found = offsets.get(partition)
    return found.offset if found is not None else -1


async def test_an_activated_account_gets_one_sealed_presence_password_letter(
        gw: Gateway, db: Any, unique: str, clock: FakeClock, notices: TopicReader, infra: Any, prefix: str,
        capfd: pytest.CaptureFixture[str]) -> None:
    reg = Registry(gw, db, unique)
    dr = await reg.professional(f"DR-{unique}", "Luc", "Kremer")
    patient = await reg.person(ADULT, "Yves", "Lentz")
    event = encode({"event_id": f"activated-{unique}", "matricule": patient, "minor": False, "luxtrust": False,
                    "activated_at": clock().isoformat()})

    await gw.producer.send_and_wait("activation.accounts.v1", event, key=patient.encode())
    letter = await notices.wait(recipient=patient, template_id="presence-password")
    issued = await gw.outcomes.wait(patient=patient, command="generate-presence-password")
    assert issued["accepted"] and issued["reason"] == "presence password issued by the agency on activation; " \
                                                      "posted by letter"
    assert letter["channel"] == "letter" and letter["parameters"] == {}  # nothing in the clear
    binding = request_binding(letter["request_id"], "letter", patient, letter.get("destination"))
    password = unseal(TEST_NOTIFY_SEAL_KEY, letter["sealed_parameters"], bound_to=binding)["password"]
    stored = (await db["patients"].find_one({"_id": patient}))["presence_hash"]
    assert await passwords.matches(stored, password) and password not in stored and password not in json.dumps(letter)

    again = await gw.producer.send_and_wait("activation.accounts.v1", event, key=patient.encode())  # redelivered
    partition = TopicPartition("activation.accounts.v1", again.partition)
    await eventually(lambda: _past(infra.bootstrap, f"{prefix}-access", partition, again.offset))
    await notices.poll()
    assert len(notices.matching(recipient=patient, template_id="presence-password")) == 1  # no second letter
    assert (await db["patients"].find_one({"_id": patient}))["presence_hash"] == stored  # nor a new password
    assert await db["presence_pending"].count_documents({"patient": patient}) == 1
    kept = await eventually(lambda: db["presence_pending"].find_one({"patient": patient, "sealed": {}}))
    assert kept["hash"] == stored  # once the letter is requested, only the hash is kept

    redeemed = await gw.redeem(patient, dr, password)  # the letter's password works at the practice
    assert redeemed["accepted"], redeemed
    logged = "".join(capfd.readouterr())  # the worker's log lines (it runs in this process)
    assert "agency presence password issued" in logged and password not in logged
    assert password.replace("-", "") not in logged

    # access's copy of the registry may lag behind activation (a restart): the letter is not held back
    late = make_matricule(date(1979, 4, 4), int(unique[4:7], 16) % 1000)
    await gw.producer.send_and_wait("activation.accounts.v1", encode({
        "event_id": f"activated-late-{unique}", "matricule": late, "minor": False, "luxtrust": False,
        "activated_at": clock().isoformat()}), key=late.encode())
    assert (await notices.wait(recipient=late, template_id="presence-password"))["sealed_parameters"]


async def _past(bootstrap: str, group: str, partition: TopicPartition, offset: int) -> bool:
    return await _committed(bootstrap, group, partition) > offset
