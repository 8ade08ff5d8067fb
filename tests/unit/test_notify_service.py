"""notify's use cases over its in-memory store (tests/fakes/notify.py) and doubles of its channels: a request
delivered once on the channel the person chose, its secrets sent and never kept; a refusal retried then failed
for good; no address, failed at once; a document notice in the person's language, once; the list and marking read;
the console's counters. The real Kafka and FerretDB paths are tests/integration/test_notify*.py."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from schemas.activation import AccountActivatedV1
from schemas.notify import MarkReadRequest, NotificationListQuery, NotificationRequestV1
from schemas.records import DocumentAddedV1
from schemas.registry import PersonRegisteredV1
from services.kit.deadletter import RetryPolicy
from services.kit.errors import BadMessage
from services.kit.paging import BadCursor
from services.kit.sealing import new_keypair, sealed_request_fields
from services.notify.app import UseCases, use_cases
from services.notify.service.channels import Refused
from tests.fakes.notify import FakeNotifyStore, Letters, Mailbox, Phone
from tests.fakes.publish import Sent
from tests.inprocess import FakeClock
from tests.support import make_matricule

PRIVATE, PUBLIC = new_keypair()
ANNA = make_matricule(date(1966, 8, 14), 11)


class World:
    def __init__(self) -> None:
        self.store, self.clock, self.events = FakeNotifyStore(), FakeClock(), Sent()
        self.mail, self.sms, self.letters = Mailbox(), Phone(), Letters()
        self.uc: UseCases = use_cases(self.store, self.mail, self.sms, self.letters, self.events, self.clock,
                                      lambda m: f"ref-{m[-3:]}", RetryPolicy(max_attempts=2), PRIVATE)

    async def register(self, email: str | None = "anna@example.lu", mobile: str | None = "+352621000111") -> None:
        await self.uc.contacts.registered(PersonRegisteredV1.model_validate({
            "message_id": "reg-1", "matricule": ANNA, "given_name": "Anna", "family_name": "Muller",
            "birth_date": "1966-08-14", "email": email, "mobile": mobile,
            "postal_address": {"line1": "1, rue de la Gare", "postal_code": "L-1611", "locality": "Luxembourg"}}))


def request(channel: str, request_id: str = "rq-1", template: str = "one-time-code",
            secrets: dict[str, str] | None = None, **fields: Any) -> NotificationRequestV1:
    sealed = sealed_request_fields(PUBLIC, secrets or {}, request_id=request_id, channel=channel, recipient=ANNA,
                                   destination=fields.get("destination"))
    return NotificationRequestV1.model_validate({"request_id": request_id, "channel": channel, "template_id": template,
                                                 "locale": "en", "recipient": ANNA, **sealed, **fields})


async def test_a_request_on_the_preferred_channel_goes_to_the_chosen_sms_once_its_code_never_kept() -> None:
    w = World()
    await w.register()
    await w.uc.contacts.activated(AccountActivatedV1.model_validate({
        "event_id": "act-1", "matricule": ANNA, "minor": False, "luxtrust": False,
        "activated_at": "2026-12-01T10:00:00Z", "channel": "sms", "destination": "+352691999888"}))
    req = request("preferred", secrets={"code": "483920"})
    await w.uc.delivery.handle(req)
    await w.uc.delivery.handle(req)  # redelivered: not sent again, its event re-sent as first stored
    assert w.sms.sent == [("+352691999888", "Your one-time code: Your eSanté one-time code: 483920 (valid for 5 "
                                            "minutes).", "rq-1")] and w.mail.sent == []
    stored = w.store.outbox["rq-1"]
    assert (stored["status"], stored["channel"], stored["parameters"]) == ("delivered", "sms",
                                                                           {"code": "[sent, not kept]"})
    assert "483920" not in repr(stored)
    assert [e["status"] for e in w.events.bodies] == ["delivered", "delivered"]
    assert w.events.bodies[0] == w.events.bodies[1] and w.events.bodies[0]["channel"] == "sms"
    assert w.events.sent[0][1] == b"rq-1" and w.events.sent[0][2] == {"event-id": w.events.bodies[0]["event_id"]}


async def test_a_refused_message_is_retried_then_failed_for_good_with_one_failed_event() -> None:
    w = World()
    await w.register()
    w.mail.refuse = 2
    req = request("email", secrets={"code": "111222"})
    with pytest.raises(Refused):
        await w.uc.delivery.handle(req)  # attempt 1 of 2: raised for the dead-letter middleware to retry
    assert w.store.outbox["rq-1"]["status"] == "retrying" and w.events.bodies == []
    with pytest.raises(BadMessage, match="refused"):
        await w.uc.delivery.handle(req)
    assert w.store.outbox["rq-1"]["status"] == "failed" and w.mail.sent == []
    [failed] = w.events.bodies
    assert (failed["status"], failed["attempts"]) == ("failed", 2)
    await w.uc.delivery.handle(req)  # failed for good: a redelivery sends nothing, re-sends its event
    assert w.mail.sent == [] and w.events.bodies == [failed, failed]


async def test_no_address_on_the_channel_fails_at_once_and_a_letter_goes_to_the_registry_address() -> None:
    w = World()
    await w.register(email=None, mobile=None)
    with pytest.raises(BadMessage, match="no e-mail address or mobile number for this person"):
        await w.uc.delivery.handle(request("preferred", secrets={"code": "123456"}))
    assert w.store.outbox["rq-1"]["status"] == "failed" and w.events.bodies[0]["reason"] == (
        "no e-mail address or mobile number for this person")
    await w.uc.delivery.handle(request("letter", "rq-2", "activation-code", secrets={"code": "ABCD-EFGH"}))
    [(reference, address, _, body, recipient_ref)] = w.letters.sent
    assert (reference, address) == ("rq-2", "Anna Muller\n1, rue de la Gare\nL-1611 Luxembourg\nLU")
    assert "ABCD-EFGH" in body and recipient_ref == f"ref-{ANNA[-3:]}"
    assert w.store.outbox["rq-2"]["letter_file"] == "rq-2.pdf"


def document(event_id: str, change: str = "added", version: int = 1) -> DocumentAddedV1:
    return DocumentAddedV1.model_validate({
        "event_id": event_id, "document_id": f"d-{event_id}", "patient_matricule": ANNA,
        "document_type": "lab-result", "title": "Hémogramme", "author": "LAB-LUX", "change": change,
        "document_date": "2026-11-20T08:05:00+01:00", "version": version})


async def test_document_notices_in_her_language_once_then_listed_paged_and_marked_read() -> None:
    w = World()
    await w.register()
    await w.uc.delivery.handle(request("inapp", "rq-de", "first-access", locale="de",
                                       parameters={"professional": "Dr Hoffmann"}))  # she last asked for German
    for i in range(3):
        w.clock.advance(seconds=1)
        await w.uc.documents.handle(document(f"ev-{i}"), ANNA.encode())
    await w.uc.documents.handle(document("ev-0"), ANNA.encode())  # redelivered: nothing added
    await w.uc.documents.handle(document("ev-w", "withdrawn"), ANNA.encode())  # never shown: no notice
    with pytest.raises(BadMessage, match="message key"):
        await w.uc.documents.handle(document("ev-x"), b"someone else")

    first = await w.uc.inbox.page(NotificationListQuery(recipient=ANNA, limit=2))
    assert [n.body for n in first.items] == ["Ein neues Dokument ist in Ihrer DSP: Hémogramme."] * 2
    assert first.unread == 4 and first.next_cursor is not None
    rest = await w.uc.inbox.page(NotificationListQuery(recipient=ANNA, limit=2, cursor=first.next_cursor))
    assert [n.template for n in rest.items] == ["document-added", "first-access"] and rest.next_cursor is None
    with pytest.raises(BadCursor):
        await w.uc.inbox.page(NotificationListQuery(recipient=ANNA, cursor="forged"))

    marked = await w.uc.inbox.mark_read(MarkReadRequest(recipient=ANNA, ids=[first.items[0].id, "nope"]))
    assert (marked.updated, marked.unread) == (1, 3)
    assert (await w.uc.inbox.mark_read(MarkReadRequest(recipient=ANNA, all=True))).model_dump() == {
        "updated": 3, "unread": 0}
    counts = (await w.uc.stats.counts()).model_dump()
    assert counts["channels"]["inapp"] == {"delivered": 4, "failed": 0} and counts["letters_sent"] == 0
