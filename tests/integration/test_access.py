"""The access worker on the real stack, driven as the gateway drives it; time moves on a FakeClock."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from schemas.fields import rfc3339
from services.access.domain.planner import MINOR_CONFIRMS, NOT_A_REPRESENTATIVE, PAUSED
from services.kit.servicetokens import Signer
from tests.inprocess import FakeClock, InProcessWorker
from tests.integration.access_support import Gateway, TopicReader, access_worker, guardian_of, people
from tests.support import (
    as_caller,
    encode,
    eventually,
    header,
    kafka_options,
    make_matricule,
    read_topic,
)

ADULT, PARENT_BORN, CHILD_BORN = date(1980, 5, 17), date(1984, 3, 9), date(2015, 6, 1)


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def prefix(run_id: str) -> str:
    return f"{run_id}acc"  # its own database and consumer group: the test owns this worker's clock


@pytest.fixture(scope="module")
def pseudonym_key() -> str:
    return secrets.token_hex(24)


@pytest.fixture(scope="module")
def access(infra: Any, prefix: str, clock: FakeClock, pseudonym_key: str) -> Iterator[InProcessWorker]:
    worker = access_worker(infra, prefix, clock, pseudonym_key).start()
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


async def test_trusted_circle_referring_gp_periods_blocks_and_revocation(gw: Gateway, db: Any, unique: str,
                                                                        clock: FakeClock, infra: Any) -> None:
    dr, colleague = f"DR-{unique}", f"COL-{unique}"
    [patient, stranger] = await people(gw, db, unique, ADULT, PARENT_BORN, pros=(dr, colleague))
    me = ("patient", patient)

    assert (await gw.run(patient, "add-to-circle", me, professional_id=dr))["accepted"]
    assert (await gw.decide(("professional", dr), patient))["reason"] == "trusted-circle"
    assert (await gw.decide(("professional", colleague), patient))["reason"] == "no grant for this professional"
    assert (await gw.run(patient, "set-referring-gp", me, professional_id=dr))["accepted"]
    assert (await gw.decide(("professional", dr), patient))["reason"] == "referring GP"
    unknown = await gw.run(patient, "add-to-circle", me, professional_id=f"NOPE-{unique}")
    assert (unknown["accepted"], unknown["reason"]) == (False, "unknown professional")
    intruder = await gw.run(patient, "add-to-circle", ("patient", stranger), professional_id=colleague)
    assert intruder["reason"] == "not the owner nor a DSP assistant of this record"
    by_pro = await gw.run(patient, "add-to-circle", ("professional", dr), professional_id=colleague)
    assert by_pro["reason"] == "only the patient and their DSP assistants manage access"

    # records tells access that the patient blocked a document: hidden from every professional, not the patient
    await gw.producer.send_and_wait("records.document-visibility.v1", encode({
        "event_id": f"vis-{unique}", "document_id": f"doc-{unique}", "patient_matricule": patient, "blocked": True,
        "at": clock().isoformat()}), key=patient.encode())
    blocked = await eventually(lambda: _reason(gw, ("professional", dr), patient, f"doc-{unique}"))
    assert blocked == "document blocked by the patient"
    assert (await gw.decide(me, patient, document=f"doc-{unique}"))["allowed"]

    assert (await gw.run(patient, "set-access-period", me, professional_id=dr, days=30))["accepted"]
    clock.advance(days=29)  # lengthened before it ends: 365 days from now, past the 30 first asked for
    assert (await gw.run(patient, "set-access-period", me, professional_id=dr, days=365))["accepted"]
    clock.advance(days=2)
    assert (await gw.decide(("professional", dr), patient))["allowed"]
    assert (await gw.run(patient, "set-access-period", me, professional_id=dr, days=1))["accepted"]
    ended = await TopicReader(infra.bootstrap, "access.grant-expired.v1").start()
    try:
        clock.advance(days=1)  # ended: denied at once (decide checks the end itself: unit-tested), then swept
        expired = await gw.decide(("professional", dr), patient)
        assert not expired["allowed"] and expired["reason"] in ("the grant has expired",
                                                                "no grant for this professional")
        event = await ended.wait(patient=patient, subject=dr)
        assert event["grant"] == "trusted-circle"
    finally:
        await ended.stop()
    assert (await gw.decide(("professional", dr), patient))["reason"] == "no grant for this professional"
    late = await gw.run(patient, "set-access-period", me, professional_id=dr, days=365)
    assert (late["accepted"], late["reason"]) == (False, "the professional is not in the trusted circle")
    assert (await gw.run(patient, "add-to-circle", me, professional_id=dr))["accepted"]
    assert (await gw.decide(("professional", dr), patient))["allowed"]
    assert (await gw.run(patient, "block-professional", me, professional_id=dr))["accepted"]
    assert (await gw.decide(("professional", dr), patient))["reason"] == "professional blocked by the patient"
    assert (await gw.run(patient, "unblock-professional", me, professional_id=dr))["accepted"]
    revoked = await gw.run(patient, "revoke-grant", me, professional_id=dr)
    assert (revoked["accepted"], revoked["reason"]) == (True, "revoked: trusted-circle")
    assert (await gw.decide(("professional", dr), patient))["reason"] == "no grant for this professional"

    status, state = await gw.post("/v1/access-state", {"actor": {"kind": "patient", "id": patient},
                                                       "patient": patient})
    assert status == 200 and state["grants"] == [] and state["blocked_documents"] == [f"doc-{unique}"]
    status, refused = await gw.post("/v1/access-state", {"actor": {"kind": "professional", "id": dr},
                                                         "patient": patient})
    assert (status, refused["detail"]) == (403, "only the patient and their DSP assistants manage access")


async def _reason(gw: Gateway, actor: tuple[str, str], patient: str, document: str) -> str | None:
    reason: str = (await gw.decide(actor, patient, document=document))["reason"]
    return reason if reason != "trusted-circle" and reason != "referring GP" else None


async def test_presence_password_24_hours_guess_limit_sweep_and_notices(gw: Gateway, db: Any, unique: str,
                                                                      clock: FakeClock, infra: Any) -> None:
    guesser, dr = f"GUESS-{unique}", f"DR-{unique}"
    [patient] = await people(gw, db, unique, ADULT, pros=(guesser, dr))
    notices = await TopicReader(infra.bootstrap, "notify.requests.v1").start()
    expired = await TopicReader(infra.bootstrap, "access.grant-expired.v1").start()
    try:
        none_yet = await gw.redeem(patient, dr, "AAAA-AAAA")
        assert (none_yet["status"], none_yet["reason"]) == (403, "wrong presence password")
        generated = await gw.generate(patient)
        assert generated["accepted"] and generated["status"] == 202
        password = generated["presence_password"]  # answered once, over HTTP
        letter = await notices.wait(recipient=patient, template_id="presence-password")
        assert letter["channel"] == "letter" and len(password) == 9
        assert "password" not in letter["parameters"] and letter["sealed_parameters"]  # only notify can open it
        forged = await gw.run(patient, "redeem-presence-password", ("professional", dr))  # straight onto the topic
        assert forged["reason"] == "a presence password is redeemed through access's API only"
        forged = await gw.run(patient, "generate-presence-password", ("patient", patient), delivery="none")
        assert forged["reason"] == "a presence password is generated through access's API only"

        for _ in range(5):
            wrong = await gw.redeem(patient, guesser, "ZZZZ-ZZZZ")
            assert wrong["reason"] == "wrong presence password"
        locked = await gw.redeem(patient, guesser, password)
        assert (locked["status"], locked["reason"]) == (
            429, "too many wrong presence passwords for this patient; try again in an hour")

        redeemed = await gw.redeem(patient, dr, password.lower().replace("-", " "))
        assert redeemed["accepted"] and redeemed["details"]["ends_at"] == rfc3339(clock() + timedelta(hours=24))
        assert (await gw.decide(("professional", dr), patient))["reason"] == "presence-password"
        assert (await gw.decide(("professional", guesser), patient))["allowed"] is False
        await notices.wait(recipient=patient, template_id="presence-password-used")
        await notices.wait(recipient=patient, template_id="first-access")
        trail = (await gw.post("/v1/audit", {"actor": {"kind": "patient", "id": patient}, "patient": patient}))[1]
        reads = [e for e in trail["items"] if e["action"] == "read" and e["who"]["id"] == dr]
        assert reads and reads[0]["who"]["name"] == "Paul Hoffmann"
        stored = await db["audit"].find_one({"patient": patient, "action": "read", "actor_id": dr})
        assert stored["via"] == "gateway"  # the calling service is in the trail (and in its hash)

        clock.advance(hours=1)  # the guesser's failures have left the sliding hour
        assert (await gw.redeem(patient, guesser, password))["accepted"]
        clock.advance(hours=23)  # exactly 24 h after the first redemption
        assert (await gw.decide(("professional", dr), patient))["reason"] in ("the grant has expired",
                                                                             "no grant for this professional")
        assert (await gw.decide(("professional", guesser), patient))["allowed"]
        event = await expired.wait(patient=patient, subject=dr)
        assert event["grant"] == "presence-password"
        await notices.wait(recipient=patient, template_id="grant-expired")
        assert (await gw.decide(("professional", dr), patient))["reason"] == "no grant for this professional"

        assert (await gw.generate(patient, delivery="inapp"))["accepted"]
        old = await gw.redeem(patient, dr, password)
        assert old["reason"] == "wrong presence password"  # regenerating retires the old password
    finally:
        await notices.stop()
        await expired.stop()


async def test_six_professionals_guessing_on_one_patient_get_ten_guesses_and_she_is_told(
        gw: Gateway, db: Any, unique: str, clock: FakeClock, infra: Any) -> None:
    """The finding: 6 professionals had 30 guesses evaluated on one patient in under a minute, and she was not
    told. Now 10 in the sliding hour from all of them (each try over the real worker, counted in FerretDB by `_id`
    range), then paused; the patient told at the 3rd and the 10th, in the portal and on her own channel."""
    pros, other = tuple(f"G{i}-{unique}" for i in range(6)), f"OTHER-{unique}"
    [patient] = await people(gw, db, unique, ADULT, pros=(*pros, other))
    notices = await TopicReader(infra.bootstrap, "notify.requests.v1").start()
    try:
        password = (await gw.generate(patient, delivery="none"))["presence_password"]
        answers = await asyncio.gather(*(gw.redeem(patient, pro, "ZZZZ-ZZZZ") for pro in pros for _ in range(5)))
        assert sorted(a["status"] for a in answers) == [403] * 10 + [429] * 20
        assert {a["reason"] for a in answers if a["status"] == 429} == {PAUSED}
        wrong = await db["audit"].count_documents({"patient": patient, "reason": "wrong presence password"})
        assert wrong == 10  # evaluated (and audited) guesses
        paused = await gw.redeem(patient, other, password)  # a professional who has not guessed yet
        assert (paused["status"], paused["reason"]) == (429, PAUSED)  # even the right one is not evaluated
        for template, failures in (("presence-password-guesses", "3"), ("presence-password-guesses-paused", "10")):
            for channel in ("inapp", "preferred"):
                told = await notices.wait(recipient=patient, template_id=template, channel=channel)
                assert told["parameters"] == {"failures": failures}
        await notices.poll()
        assert len([n for n in notices.matching(recipient=patient) if n["template_id"].startswith(
            "presence-password-guesses")]) == 4  # once each: at the 3rd and at the 10th

        clock.advance(hours=1)  # the wrong guesses leave the sliding hour
        assert (await gw.redeem(patient, other, password))["accepted"]
    finally:
        await notices.stop()


async def test_break_the_glass_needs_a_justification_and_respects_refusal(gw: Gateway, db: Any, unique: str,
                                                                          infra: Any, prefix: str) -> None:
    er = f"ER-{unique}"
    [patient] = await people(gw, db, unique, ADULT, pros=(er,))
    await gw.send(patient, "break-the-glass", ("professional", er), justification="urgent", command_id=f"btg-{unique}")
    dead = await read_topic(infra.bootstrap, "access.commands.v1.dlq", patient.encode(), count=1,
                            group=f"{prefix}-access")
    assert header(dead[0], "dlq-reason") == "break-the-glass.justification: String should have at least 15 characters"

    used = await gw.run(patient, "break-the-glass", ("professional", er),
                        justification="Patient unconscious in the emergency room, allergies unknown")
    assert used["accepted"] and used["reason"] == "emergency access granted"
    assert (await gw.decide(("professional", er), patient))["reason"] == "emergency"
    assert (await gw.run(patient, "set-emergency-access", ("patient", patient), refused=True))["accepted"]
    assert (await gw.decide(("professional", er), patient))["allowed"] is False
    again = await gw.run(patient, "break-the-glass", ("professional", er),
                         justification="Patient unconscious in the emergency room, allergies unknown")
    assert again["reason"] == "the patient has refused emergency access"
    not_pro = await gw.run(patient, "break-the-glass", ("patient", patient), justification="x" * 20)
    assert not_pro["reason"] == "only a health professional can do this"


async def test_a_minors_assistant_is_a_legal_representative_and_only_the_adult_keeps_the_link(
        gw: Gateway, db: Any, unique: str, clock: FakeClock, infra: Any) -> None:
    [child, parent, sibling, neighbour] = await people(gw, db, unique, CHILD_BORN, PARENT_BORN, date(2012, 2, 3),
                                                       ADULT)
    await guardian_of(gw, db, unique, child, parent)
    expired = await TopicReader(infra.bootstrap, "access.grant-expired.v1").start()
    notices = await TopicReader(infra.bootstrap, "notify.requests.v1").start()
    try:
        minor = await gw.run(child, "add-assistant", ("patient", child), assistant=sibling)
        assert minor["reason"] == "a DSP assistant must be an adult"
        # the child's own account (which a parent activated) cannot hand the DSP to any adult
        stranger = await gw.run(child, "add-assistant", ("patient", child), assistant=neighbour)
        assert (stranger["accepted"], stranger["reason"]) == (False, NOT_A_REPRESENTATIVE)
        added = await gw.run(child, "add-assistant", ("patient", child), assistant=parent)  # a legal representative
        assert added["accepted"] and added["details"]["link_ends_at"] == "2033-06-01T00:00:00.000Z"
        assert (await gw.decide(("patient", parent), child, "manage"))["reason"] == "DSP assistant"
        # the parent, with the owner's rights, manages the child's DSP — but adds no stranger either
        assert (await gw.run(child, "set-emergency-access", ("patient", parent), refused=False))["accepted"]
        by_parent = await gw.run(child, "add-assistant", ("patient", parent), assistant=neighbour)
        assert by_parent["reason"] == NOT_A_REPRESENTATIVE
        assert (await gw.decide(("patient", neighbour), child, "manage"))["allowed"] is False
        # a minor cannot make the link permanent (the finding: `ends_at` became null), nor can the parent
        early = await gw.run(child, "confirm-assistant", ("patient", child), assistant=parent)
        assert (early["accepted"], early["reason"]) == (False, MINOR_CONFIRMS)
        for_her = await gw.run(child, "confirm-assistant", ("patient", parent), assistant=parent)
        assert for_her["reason"] == "only the patient themselves confirms an assistant link"
        state = (await gw.post("/v1/access-state", {"actor": {"kind": "patient", "id": child}, "patient": child}))[1]
        assert [(a["matricule"], a["ends_at"]) for a in state["assistants"]] == [(parent, "2033-06-01T00:00:00.000Z")]

        clock.set(datetime.fromisoformat("2033-06-01T00:00:00+00:00"))
        ended = await expired.wait(patient=child, subject=parent)
        assert ended["grant"] == "assistant"
        await notices.wait(recipient=child, template_id="assistant-link-ended")
        assert (await gw.decide(("patient", parent), child, "manage"))["reason"] == "the assistant link has ended"

        # only the now-adult patient keeps it: confirmed, it has no end
        clock.advance(days=30)
        assert (await gw.run(child, "confirm-assistant", ("patient", parent), assistant=parent))["accepted"] is False
        kept = await gw.run(child, "confirm-assistant", ("patient", child), assistant=parent)
        assert (kept["accepted"], kept["reason"]) == (True, "assistant link confirmed")
        assert (await gw.decide(("patient", parent), child, "manage"))["reason"] == "DSP assistant"
        state = (await gw.post("/v1/access-state", {"actor": {"kind": "patient", "id": child}, "patient": child}))[1]
        assert [(a["matricule"], a["ends_at"]) for a in state["assistants"]] == [(parent, None)]
        # and as an adult she chooses anyone
        assert (await gw.run(child, "add-assistant", ("patient", child), assistant=neighbour))["accepted"]
    finally:
        await expired.stop()
        await notices.stop()


async def test_audit_trail_is_readable_by_the_patient_and_tampering_is_found(gw: Gateway, db: Any,
                                                                              unique: str) -> None:
    dr = f"DR-{unique}"
    [patient, stranger] = await people(gw, db, unique, ADULT, PARENT_BORN, pros=(dr,))
    me = ("patient", patient)
    assert (await gw.decide(("professional", dr), patient))["allowed"] is False
    await gw.run(patient, "add-to-circle", me, professional_id=dr)
    read = await gw.decide(("professional", dr), patient, document="doc-1")
    assert read["allowed"] and read["audit_seq"] is not None

    status, trail = await gw.post("/v1/audit", {"actor": {"kind": "patient", "id": patient}, "patient": patient})
    assert status == 200
    entries = trail["items"]
    assert [(e["who"]["id"], e["action"], e["allowed"], e["reason"]) for e in reversed(entries)] == [
        (dr, "read", False, "no grant for this professional"),
        (patient, "add-to-circle", True, "added to the trusted circle"),
        (dr, "read", True, "trusted-circle")]
    status, _ = await gw.post("/v1/audit", {"actor": {"kind": "patient", "id": stranger}, "patient": patient})
    assert status == 403

    intact = await gw.run(patient, "verify-audit-trail", ("operator", "helpdesk-1"))
    assert (intact["reason"], intact["details"]["entries"]) == ("audit trail intact", "3")
    head = await db["audit"].find_one({"patient": patient, "seq": 2})
    assert (intact["details"]["head_seq"], intact["details"]["head_hash"]) == ("2", head["hash"])
    await db["audit"].update_one({"patient": patient, "seq": 1}, {"$set": {"reason": "nothing to see"}})
    broken = await gw.run(patient, "verify-audit-trail", ("operator", "helpdesk-1"))
    assert broken["reason"] == "audit trail broken at entry 1: forged (its MAC does not match its content)"


async def test_bad_input_gets_a_reason_and_redelivery_changes_nothing(gw: Gateway, db: Any, unique: str,
                                                                       infra: Any, prefix: str) -> None:
    dr = f"DR-{unique}"
    [patient] = await people(gw, db, unique, ADULT, pros=(dr,))
    nobody = make_matricule(date(1970, 1, 2), int(unique[4:7], 16) % 1000)
    unknown = await gw.run(nobody, "add-to-circle", ("patient", nobody), professional_id=dr,
                           command_id=f"nobody-{unique}")
    assert (unknown["accepted"], unknown["reason"]) == (False, "unknown patient")
    await gw.send(nobody, "add-to-circle", ("patient", nobody), professional_id=dr, command_id=f"nobody-{unique}")
    twice = await eventually(lambda: _answers(gw, f"nobody-{unique}", 2))
    assert twice[0] == twice[1]  # a redelivery about an unknown patient re-sends the first refusal, not a new one

    await gw.producer.send_and_wait("access.commands.v1", b'{"command": "add-to-circle", "patient": "123"}',
                                    key=f"bad-{unique}".encode())
    await gw.producer.send_and_wait("access.commands.v1", b"\xff not json", key=f"bad-{unique}-2".encode())
    dead = await read_topic(infra.bootstrap, "access.commands.v1.dlq", f"bad-{unique}".encode(), count=2,
                            group=f"{prefix}-access")
    assert all(header(d, "dlq-reason") for d in dead) and {d.value for d in dead} >= {b"\xff not json"}

    status, body = await gw.post("/v1/decisions", {"actor": {"kind": "professional", "id": dr}, "action": "read"})
    assert status == 422 and body["errors"][0]["loc"] == ["patient"]
    status, body = await gw.post("/v1/decisions", {"actor": {"kind": "patient", "id": "1234567890123"},
                                                   "action": "read", "patient": patient})
    assert status == 422

    command_id = f"twice-{unique}"
    for _ in range(2):
        await gw.send(patient, "add-to-circle", ("patient", patient), professional_id=dr, command_id=command_id)
    first = await gw.outcomes.wait(command_id=command_id)
    await gw.run(patient, "set-emergency-access", ("patient", patient), refused=False)  # same partition, after it
    assert len(gw.outcomes.matching(command_id=command_id)) == 1  # the redelivery was recognised: no second answer
    assert first["accepted"]
    assert await db["audit"].count_documents({"patient": patient, "ref": command_id}) == 1
    assert (await db["patients"].find_one({"_id": patient}))["version"] == 2


async def test_two_replicas_share_the_work_and_end_each_grant_once(gw: Gateway, db: Any, unique: str, infra: Any,
                                                                   clock: FakeClock, prefix: str,
                                                                   pseudonym_key: str) -> None:
    pros = tuple(f"ER{i}-{unique}" for i in range(20))
    [patient] = await people(gw, db, unique, ADULT, pros=pros)
    second = access_worker(infra, prefix, clock, pseudonym_key).start()  # same group: partitions are shared
    await eventually(lambda: _group_settled(infra.bootstrap, f"{prefix}-access"), within_s=60)
    expired = await TopicReader(infra.bootstrap, "access.grant-expired.v1").start()
    try:
        for pro in pros:
            used = await gw.run(patient, "break-the-glass", ("professional", pro),
                                justification="Unconscious patient brought in by ambulance")
            assert used["accepted"]
        other = Gateway(gw.producer, gw.outcomes, second)
        for replica in (gw, other):  # both views know every grant, whichever replica applied the command
            await eventually(lambda r=replica: _allowed(r, ("professional", pros[-1]), patient))  # type: ignore[misc]

        clock.advance(hours=12)  # every emergency grant ends; both replicas sweep every 0.3 s
        await expired.wait(patient=patient, subject=pros[-1])
        await eventually(lambda: _none_pending(db, patient))
        await expired.poll()
        ended = expired.matching(patient=patient)
        assert sorted(e["subject"] for e in ended) == sorted(pros)  # each grant ended once: no double events
        assert len({e["event_id"] for e in ended}) == len(ended) == 20
        for replica in (gw, other):
            assert (await replica.decide(("professional", pros[0]), patient))["allowed"] is False
    finally:
        await expired.stop()
        second.stop()


async def _allowed(gw: Gateway, actor: tuple[str, str], patient: str) -> bool:
    return bool((await gw.decide(actor, patient))["allowed"])


async def _none_pending(db: Any, patient: str) -> bool:
    return await db["expiries"].count_documents({"patient": patient, "state": "pending"}) == 0


async def _group_settled(bootstrap: str, group: str) -> bool:
    """Both replicas joined (4 grouped consumers each) and the group is stable: a command in flight during a
    rebalance is redelivered to the new owner, whose effects go out again under the same event ids."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        responses = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    groups = [g for response in responses for g in response.groups]
    return any(g[2] == "Stable" and len(g[5]) >= 8 for g in groups)


def _knock(port: int, headers: dict[str, str], body: bytes = b"{}", path: str = "/v1/audit") -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 - a fixed http:// URL
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


async def test_the_internal_api_asks_who_is_calling(gw: Gateway, db: Any, unique: str, access: InProcessWorker) -> None:
    """Unknown caller 401, a service that may not call 403, not JSON 415, another Host 400, the gateway 200."""
    [patient] = await people(gw, db, unique, ADULT)
    body = encode({"actor": {"kind": "patient", "id": patient}, "patient": patient})
    json_type = {"content-type": "application/json"}
    assert _knock(access.port, json_type, body)[0] == 401
    forged = Signer("gateway", base64.b64encode(b"k" * 32).decode()).token("access")  # not the gateway's key
    assert _knock(access.port, {**json_type, "authorization": f"Bearer {forged}"}, body)[0] == 401
    assert _knock(access.port, {**json_type, **as_caller("gateway", "activation")}, body)[0] == 401  # wrong audience
    status, text = _knock(access.port, {**json_type, **as_caller("console", "access")}, body)
    assert (status, json.loads(text)["detail"]) == (403, "service console may not call this API")
    assert _knock(access.port, {"content-type": "text/plain", **as_caller("gateway", "access")}, body)[0] == 415
    assert _knock(access.port, {**json_type, **as_caller("gateway", "access"), "host": "evil.example:80"},
                  body)[0] == 400
    status, text = _knock(access.port, {**json_type, **as_caller("gateway", "access")}, body)
    assert status == 200 and "items" in json.loads(text)
    for path in ("/v1/decisions", "/v1/access-state", "/v1/patients-of", "/v1/presence/generate",
                 "/v1/presence/redeem", "/v1/assisted", "/v1/persons/lookup", "/v1/professionals/search",
                 "/v1/professionals/get"):
        assert _knock(access.port, json_type, body, path)[0] == 401


async def _answers(gw: Gateway, command_id: str, count: int) -> list[dict[str, Any]]:
    await gw.outcomes.poll()
    found = gw.outcomes.matching(command_id=command_id)
    return found if len(found) >= count else []
