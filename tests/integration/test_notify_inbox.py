"""notify's notification list on the real database (FerretDB, or MongoDB): every read and write of the list is
by `_id` (the inbox document, then the notices' texts by `_id` `$in`), a redelivery adds nothing, and a crash
between storing a notice and listing it is repaired by the redelivery. The store and the use cases (the list's,
the document notices', a request's delivery) are driven directly (no Kafka), every command they send recorded."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from schemas.notify import MarkReadRequest, NotificationListQuery, NotificationRequestV1
from schemas.records import DocumentAddedV1
from services.kit.deadletter import RetryPolicy
from services.notify.service.channels import LetterPrinter, SmsGateway, Smtp
from services.notify.service.delivery import Delivery
from services.notify.service.documents import DocumentNotices
from services.notify.service.inbox import Inbox
from services.notify.store.mongo import NotifyStore, field_key
from tests.inprocess import FakeClock
from tests.support import make_matricule

READS_AND_WRITES = {"find", "update", "delete", "count", "aggregate", "findAndModify", "distinct"}


class Commands(monitoring.CommandListener):
    """Every command the store sends: (name, collection, filters)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, list[Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in READS_AND_WRITES:
            cmd = event.command
            filters = [u["q"] for u in cmd["updates"]] if event.command_name == "update" else [
                cmd.get("filter", cmd.get("query", {}))]
            self.seen.append((event.command_name, str(cmd[event.command_name]), filters))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def by_id_only(query: Any) -> bool:
    """`{_id: x}` or `{_id: {$in: [...]}}` — the filters FerretDB answers from its `_id` index."""
    if set(query) != {"_id"}:
        return False
    value = query["_id"]
    return isinstance(value, str) or (isinstance(value, dict) and set(value) == {"$in"})


@pytest.fixture
async def world(infra: Any, run_id: str, unique: str) -> AsyncIterator[tuple[NotifyStore, Commands, FakeClock]]:
    commands = Commands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_uri, tz_aware=True,
                                                                event_listeners=[commands])
    yield NotifyStore(client[f"{run_id}_nfy{unique[:6]}"]), commands, FakeClock()
    await client.close()


def event(matricule: str, event_id: str, title: str = "Hémogramme") -> DocumentAddedV1:
    return DocumentAddedV1.model_validate({
        "event_id": event_id, "document_id": f"d-{event_id}", "patient_matricule": matricule,
        "document_type": "lab-result", "title": title, "author": "LAB-LUX", "change": "added",
        "document_date": "2026-11-20T08:05:00+01:00", "version": 1})


async def call(api: Inbox, which: str, body: dict[str, Any]) -> Any:
    """What the route answers: the use case's result as JSON (the body decoded as the route decodes it)."""
    if which == "list":
        return (await api.page(NotificationListQuery.model_validate_json(json.dumps(body)))).model_dump(mode="json")
    return (await api.mark_read(MarkReadRequest.model_validate_json(json.dumps(body)))).model_dump()


async def every(api: Inbox, recipient: str, limit: int, **options: Any) -> list[dict[str, Any]]:
    found, cursor = [], None
    while True:
        page = await call(api, "list", {"recipient": recipient, "limit": limit, "cursor": cursor, **options})
        found += page["items"]
        if (cursor := page["next_cursor"]) is None:
            return found


async def test_the_list_its_count_and_marking_read_touch_the_database_by_id_only(
        world: tuple[NotifyStore, Commands, FakeClock], unique: str) -> None:
    store, commands, clock = world
    anna, other = make_matricule(date(1966, 8, 14), 11), make_matricule(date(1990, 2, 27), 12)
    notices, api = DocumentNotices(store, clock, lambda m: "ref"), Inbox(store, clock)
    for batch in range(3):  # notices of one batch share their millisecond: ordered by id
        clock.advance(seconds=1)
        for i in range(3):
            await notices.handle(event(anna, f"ev-{batch}{i}-{unique}", f"Doc {batch}{i}"), anna.encode())
    await notices.handle(event(other, f"ev-o-{unique}"), other.encode())
    odd: dict[str, Any] = {
        "_id": f"fa.{unique}:x.2", "channel": "inapp", "recipient": anna, "template_id": "first-access",
        "subject": "S", "body": "B", "status": "delivered", "received_at": clock.advance(seconds=1), "read": False}
    assert await store.add_notice(odd)  # '.' in an id (request ids may have them): one field, not a path

    commands.seen.clear()
    whole = await every(api, anna, 2)
    assert [n["id"] for n in whole][:1] == [odd["_id"]] and len(whole) == 10
    assert {n["body"] for n in whole[1:4]} == {f"Un nouveau document est dans votre DSP : Doc 2{i}." for i in range(3)}
    assert [n["id"] for n in whole[1:4]] == sorted((n["id"] for n in whole[1:4]), reverse=True)
    assert whole[1]["at"] == whole[3]["at"] > whole[4]["at"]
    mark = await call(api, "read", {"recipient": anna, "ids": [odd["_id"], whole[5]["id"], "nope",
                                                               (await every(api, other, 5))[0]["id"]]})
    assert mark == {"updated": 2, "unread": 8}
    assert await call(api, "read", {"recipient": anna, "ids": [odd["_id"]]}) == {"updated": 0, "unread": 8}
    unread = await every(api, anna, 3, unread_only=True)
    assert [n["id"] for n in unread] == [n["id"] for n in whole if n["id"] not in (odd["_id"], whole[5]["id"])]
    assert {n["id"] for n in await every(api, anna, 200) if n["read"]} == {odd["_id"], whole[5]["id"]}
    assert await call(api, "read", {"recipient": anna, "all": True}) == {"updated": 8, "unread": 0}
    assert (await call(api, "list", {"recipient": other}))["unread"] == 1  # another's list is untouched
    dollar = {**odd, "_id": f"x$y%2E.{unique}", "recipient": other, "received_at": clock.now}
    assert field_key(dollar["_id"]) == f"x%24y%252E%2E{unique}"  # '$' and '%' too (the store takes any id)
    assert await store.add_notice(dollar)
    assert (await store.page(other, False, None, 5))[0]["_id"] == dollar["_id"]
    assert await store.mark_read(other, [dollar["_id"]], clock.now) == 1 and await store.unread(other) == 1
    stored = await store.outbox.find_one({"_id": whole[5]["id"]})
    assert stored is not None and stored["read"] is True  # the outbox notices are marked too

    assert commands.seen and {c for c, _, _ in commands.seen} <= {"find", "update"}
    scans = [(c, coll, q) for c, coll, filters in commands.seen for q in filters if not by_id_only(q)]
    assert scans == []  # every list, count and mark-read query is an `_id` lookup or `_id` `$in`


async def test_a_redelivered_notice_adds_nothing_and_repairs_a_crash_before_it_was_listed(
        world: tuple[NotifyStore, Commands, FakeClock], unique: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store, _, clock = world
    marie = make_matricule(date(1971, 4, 2), 21)
    notices, api = DocumentNotices(store, clock, lambda m: "ref"), Inbox(store, clock)
    first = event(marie, f"ev-a-{unique}")
    await notices.handle(first, marie.encode())
    [shown] = (await call(api, "list", {"recipient": marie}))["items"]
    await call(api, "read", {"recipient": marie, "ids": [shown["id"]]})
    clock.advance(seconds=5)
    await notices.handle(first, marie.encode())  # redelivered: nothing doubled, its time and read mark kept
    assert (await call(api, "list", {"recipient": marie}))["items"] == [{**shown, "read": True}]

    listing = store.show

    async def crash(notice: dict[str, Any]) -> None:
        raise ConnectionError("the process died between the outbox and the inbox")

    monkeypatch.setattr(store, "show", crash)
    second = event(marie, f"ev-b-{unique}", "Ordonnance")
    with pytest.raises(ConnectionError):
        await notices.handle(second, marie.encode())
    assert len((await call(api, "list", {"recipient": marie}))["items"]) == 1  # stored, not listed yet
    monkeypatch.setattr(store, "show", listing)
    at_first = clock.now
    clock.advance(seconds=5)
    await notices.handle(second, marie.encode())  # Kafka redelivers what was not committed
    page = await call(api, "list", {"recipient": marie})
    assert [n["read"] for n in page["items"]] == [False, True] and page["unread"] == 1
    assert page["items"][0]["at"] == at_first.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def test_an_inapp_request_crashed_after_delivery_is_listed_by_its_redelivery(
        world: tuple[NotifyStore, Commands, FakeClock], unique: str, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Any) -> None:
    store, _, clock = world
    paul = make_matricule(date(1948, 7, 30), 31)
    sent: list[dict[str, Any]] = []

    async def publish(event: dict[str, Any], **_: Any) -> None:
        sent.append(event)

    service = Delivery(store, Smtp("127.0.0.1", 9, "x@example.lu"), SmsGateway("http://127.0.0.1:9", "t"),
                       LetterPrinter(tmp_path), publish, clock, lambda m: "ref", RetryPolicy(), "")
    api = Inbox(store, clock)
    req = NotificationRequestV1.model_validate({
        "request_id": f"fa-{unique}.1", "channel": "inapp", "template_id": "first-access", "locale": "fr",
        "recipient": paul, "parameters": {"professional": "Dr Hoffmann"}})
    listing = store.show

    async def crash(notice: dict[str, Any]) -> None:
        raise ConnectionError("the process died after recording the delivery")

    monkeypatch.setattr(store, "show", crash)
    with pytest.raises(ConnectionError):
        await service.handle(req)
    assert (await call(api, "list", {"recipient": paul}))["items"] == [] and sent == []
    monkeypatch.setattr(store, "show", listing)
    await service.handle(req)  # redelivered: delivered already, so listed (and its event sent), not sent again
    await service.handle(req)
    page = await call(api, "list", {"recipient": paul})
    assert [n["id"] for n in page["items"]] == [req.request_id] and page["unread"] == 1
    assert [e["status"] for e in sent] == ["delivered", "delivered"] and sent[0] == sent[1]
