"""notify's document notices and its internal read API on the real stack (Kafka + FerretDB), called as the
gateway and the console call it; delivery times come from a FakeClock the test moves."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from pymongo import AsyncMongoClient

from infra.procs import free_port
from infra.sinks import SmtpSink
from services.notify.app import NotifySettings, create_app
from tests.inprocess import FakeClock, InProcessWorker, settings_from
from tests.support import ROOT, as_caller, eventually, header, kafka_options, make_matricule

EVENTS = "records.document-added.v1"
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def prefix(run_id: str) -> str:
    return f"{run_id}nfy"  # its own database and consumer group: the test owns this worker's clock


@pytest.fixture(scope="module")
def notify(infra: Any, prefix: str, clock: FakeClock,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessWorker]:
    """A notify worker whose SMTP server and SMS gateway answer (real local sinks): the requests already on the
    topic, which it goes through first, are delivered rather than waited on."""
    tmp, port, sms_port = tmp_path_factory.mktemp("notify-api"), free_port(), free_port()
    smtp = SmtpSink(free_port(), tmp / "maildir").start()
    sms = subprocess.Popen([sys.executable, "-m", "infra.sinks", "sms", "--port", str(sms_port), "--file",
                            str(tmp / "sms.jsonl")], cwd=ROOT)
    env = {"DSP_KAFKA_BOOTSTRAP": infra.bootstrap, "DSP_MONGO_URI": infra.mongo_uri, "DSP_MONGO_DB_PREFIX": prefix,
           "DSP_KAFKA_GROUP_PREFIX": f"{prefix}-", "DSP_LOG_PSEUDONYM_KEY": secrets.token_hex(24),
           "DSP_NOTIFY_HTTP_PORT": str(port), "DSP_NOTIFY_SMTP_PORT": str(smtp.controller.port),
           "DSP_NOTIFY_SMS_URL": f"http://127.0.0.1:{sms_port}/sms", "DSP_NOTIFY_LETTER_DIR": str(tmp / "letters"),
           "DSP_RETRY_BACKOFF_MAX_S": "2"}
    worker = InProcessWorker(create_app(settings_from(NotifySettings, env), clock), port, audience="notify").start()
    yield worker
    worker.stop()
    sms.terminate()
    sms.wait(timeout=10)
    smtp.stop()


class Api:
    """notify's internal API as its callers use it: POST + JSON with a service token."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    async def call(self, path: str, body: Any, caller: str | None = "gateway") -> tuple[int, Any]:
        headers = {**JSON, **(as_caller(caller, "notify") if caller else {})}
        async with httpx.AsyncClient(base_url=self.base, timeout=10) as http:
            reply = await http.post(path, content=json.dumps(body).encode(), headers=headers)
        return reply.status_code, reply.json()

    async def page(self, recipient: str, **options: Any) -> dict[str, Any]:
        status, page = await self.call("/v1/notifications/list", {"recipient": recipient, **options})
        assert status == 200, page
        return page  # type: ignore[no-any-return]

    async def every(self, recipient: str, limit: int = 200, **options: Any) -> list[dict[str, Any]]:
        """Every page of the list, in order."""
        found, cursor = [], None
        while True:
            page = await self.page(recipient, limit=limit, cursor=cursor, **options)
            found += page["items"]
            if (cursor := page["next_cursor"]) is None:
                return found

    async def read(self, recipient: str, **which: Any) -> dict[str, Any]:
        status, result = await self.call("/v1/notifications/read", {"recipient": recipient, **which})
        assert status == 200, result
        return result  # type: ignore[no-any-return]


@pytest.fixture
def api(notify: InProcessWorker) -> Api:
    return Api(notify.port)


def patient(born: date, unique: str) -> str:
    return make_matricule(born, int(unique[:3], 16) % 1000)


def document_event(matricule: str, event_id: str, change: str = "added", version: int = 1,
                   title: str = "Hémogramme", **overrides: Any) -> dict[str, Any]:
    return {"event_id": event_id, "document_id": f"doc-{event_id}", "patient_matricule": matricule,
            "document_type": "lab-result", "title": title, "author": "LAB-LUX", "change": change,
            "document_date": "2026-11-20T08:05:00+01:00", "version": version, **overrides}


async def publish(producer: AIOKafkaProducer, key: str, *events: dict[str, Any] | bytes) -> None:
    for value in events:
        data = value if isinstance(value, bytes) else json.dumps(value).encode()
        await producer.send_and_wait(EVENTS, data, key=key.encode())


async def count(api: Api, recipient: str, n: int) -> list[dict[str, Any]]:
    """A probe: the recipient's whole list once it holds `n` notices."""
    items = await api.every(recipient)
    return items if len(items) >= n else []


async def test_each_document_event_is_one_notice_in_the_patients_language(
        api: Api, producer: AIOKafkaProducer, clock: FakeClock, unique: str) -> None:
    marie = patient(date(1971, 4, 2), unique)
    request = {"request_id": f"fa-{unique}", "channel": "inapp", "template_id": "first-access", "locale": "de",
               "recipient": marie, "parameters": {"professional": "Dr Hoffmann"}}
    await producer.send_and_wait("notify.requests.v1", json.dumps(request).encode(), key=request["request_id"].encode())
    [first] = await eventually(lambda: count(api, marie, 1), within_s=90)
    assert first == {"id": f"fa-{unique}", "template": "first-access", "subject": "Neuer Zugriff auf Ihre DSP",
                     "body": "Die Fachkraft Dr Hoffmann hat Ihre DSP zum ersten Mal eingesehen.", "read": False,
                     "at": clock.now.isoformat(timespec="milliseconds").replace("+00:00", "Z")}

    added = document_event(marie, f"ev-a-{unique}")
    await publish(producer, marie, added, added)  # delivered twice
    await publish(producer, marie, document_event(marie, f"ev-w1-{unique}", "withdrawn", 1, title="Never shown"))
    await publish(producer, marie, document_event(marie, f"ev-c-{unique}", "corrected", 2, title="Hémogramme (corr.)"))
    await publish(producer, marie, document_event(marie, f"ev-w2-{unique}", "withdrawn", 3, title="Hémogramme (corr.)"))
    found = await eventually(lambda: count(api, marie, 4), within_s=90)
    # the last event of the partition is in: every one before it was handled
    assert sorted(n["template"] for n in found) == ["document-added", "document-corrected", "document-withdrawn",
                                                   "first-access"]
    by = {n["template"]: n for n in found}
    assert (by["document-added"]["subject"], by["document-added"]["body"]) == (
        "Neues Dokument", "Ein neues Dokument ist in Ihrer DSP: Hémogramme.")  # the language Marie last asked for
    assert by["document-corrected"]["body"] == ("Ein Dokument in Ihrer DSP wurde von seinem Verfasser korrigiert: "
                                                "Hémogramme (corr.) (Version 2).")
    assert "Never shown" not in json.dumps(found)  # withdrawn on arrival: never shown, nothing to take back

    await publish(producer, marie, added, document_event(marie, f"ev-b-{unique}", title="Ordonnance"))
    again = await eventually(lambda: count(api, marie, 5), within_s=60)
    assert [n["template"] for n in again].count("document-added") == 2  # the redelivered one added nothing
    page = await api.page(marie)
    assert page["unread"] == 5 and page["next_cursor"] is None


async def test_the_list_pages_newest_first_without_gaps_or_doubles_and_marks_read(
        api: Api, producer: AIOKafkaProducer, clock: FakeClock, unique: str,
        mongo: AsyncMongoClient[dict[str, Any]], prefix: str) -> None:
    anna, other = patient(date(1966, 8, 14), unique), patient(date(1990, 2, 27), unique)
    await publish(producer, other, *(document_event(other, f"ev-o{i}-{unique}") for i in range(2)))
    await eventually(lambda: count(api, other, 2), within_s=90)
    for batch in range(3):  # notices delivered at the same millisecond are ordered by id
        clock.advance(seconds=1)
        await publish(producer, anna, *(document_event(anna, f"ev-{batch}{i}-{unique}", title=f"Doc {batch}{i}")
                                        for i in range(3)))
        await eventually(lambda b=batch: count(api, anna, 3 * (b + 1)), within_s=90)  # type: ignore[misc]

    whole = await api.every(anna)
    stored = [n async for n in mongo[f"{prefix}_notify"]["outbox"].find({"recipient": anna}).sort(
        [("received_at", -1), ("_id", -1)])]
    assert [n["id"] for n in whole] == [n["_id"] for n in stored] and len(whole) == 9
    assert {n["body"] for n in whole[:3]} == {f"Un nouveau document est dans votre DSP : Doc 2{i}." for i in range(3)}
    assert len({n["at"] for n in whole[:3]}) == 1 and whole[2]["at"] > whole[3]["at"]  # newest batch first

    first = await api.page(anna, limit=2)
    assert [n["id"] for n in first["items"]] == [n["id"] for n in whole[:2]] and first["unread"] == 9
    clock.advance(seconds=1)  # a notice arriving between two pages goes to the top, not into the rest
    await publish(producer, anna, document_event(anna, f"ev-late-{unique}", title="Late"))
    await eventually(lambda: count(api, anna, 10), within_s=60)
    rest, cursor = [], first["next_cursor"]
    while cursor is not None:
        page = await api.page(anna, limit=2, cursor=cursor)
        assert len(page["items"]) <= 2
        rest += page["items"]
        cursor = page["next_cursor"]
    assert [n["id"] for n in first["items"] + rest] == [n["id"] for n in whole]
    assert (await api.page(anna, limit=1))["items"][0]["body"].endswith("Late.")
    never = {n["id"] for n in await api.every(other)}
    assert not never & {n["id"] for n in await api.every(anna)}

    two = [whole[0]["id"], whole[4]["id"]]
    marked = await api.read(anna, ids=[*two, "no-such-notice", next(iter(never))])  # another's id is ignored
    assert marked == {"updated": 2, "unread": 8}
    assert await api.read(anna, ids=two) == {"updated": 0, "unread": 8}  # idempotent
    unread = await api.every(anna, limit=3, unread_only=True)
    assert len(unread) == 8 and not {n["id"] for n in unread} & set(two) and not any(n["read"] for n in unread)
    assert {n["id"] for n in await api.every(anna) if n["read"]} == set(two)
    assert await api.read(anna, all=True) == {"updated": 8, "unread": 0}
    assert await api.read(anna, all=True) == {"updated": 0, "unread": 0}
    assert (await api.page(anna, unread_only=True)) == {"items": [], "next_cursor": None, "unread": 0}
    untouched = await api.page(other)
    assert untouched["unread"] == 2 and not any(n["read"] for n in untouched["items"])


async def test_callers_cursors_and_bodies_are_checked(api: Api, unique: str,
                                                      mongo: AsyncMongoClient[dict[str, Any]], prefix: str) -> None:
    someone = patient(date(1955, 12, 1), unique)
    body = {"recipient": someone}
    assert (await api.call("/v1/notifications/list", body, caller=None))[0] == 401
    assert (await api.call("/v1/notifications/read", {**body, "all": True}, caller=None))[0] == 401
    assert (await api.call("/v1/stats", {}, caller=None))[0] == 401
    assert await api.call("/v1/notifications/list", body, caller="console") == (
        403, {"detail": "service console may not call this API"})
    assert (await api.call("/v1/stats", {}, caller="gateway"))[0] == 403
    status, refused = await api.call("/v1/notifications/list", {**body, "cursor": "eyJ4IjoxfQ"})
    assert (status, refused) == (422, {"detail": "cursor is not one this API gave out"})
    for wrong in ({**body, "limit": 201}, {**body, "limit": 0}, {"recipient": "1234567890123"},
                  {**body, "extra": 1}):
        assert (await api.call("/v1/notifications/list", wrong))[0] == 422
    for wrong in (body, {**body, "ids": ["a"], "all": True}, {**body, "ids": ["x"] * 201}):
        assert (await api.call("/v1/notifications/read", wrong))[0] == 422
    assert await api.page(someone) == {"items": [], "next_cursor": None, "unread": 0}

    outbox = mongo[f"{prefix}_notify"]["outbox"]

    async def agree() -> dict[str, Any] | None:  # the worker may still be going through older requests
        status, stats = await api.call("/v1/stats", {}, caller="console")
        assert status == 200, stats
        direct = {"letters_sent": await outbox.count_documents({"template_id": "activation-code",
                                                                 "status": "delivered"}),
                  "channels": {ch: {s: await outbox.count_documents({"channel": ch, "status": s})
                                    for s in ("delivered", "failed")} for ch in ("email", "sms", "letter", "inapp")}}
        return stats if stats == direct else None

    stats = await eventually(agree, within_s=60)
    assert stats["channels"]["inapp"]["delivered"] >= 1


async def dead_letters(bootstrap: str, key: str, group: str, n: int,
                       within_s: float = 60.0) -> list[ConsumerRecord[bytes, bytes]]:
    """The dead letters consumer group `group` wrote for records keyed `key`, once there are `n`."""
    consumer = AIOKafkaConsumer(f"{EVENTS}.dlq", **kafka_options(bootstrap), auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    found: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + within_s
    try:
        while len(found) < n and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += [r for r in records if r.key == key.encode()
                          and dict(r.headers).get("dlq-consumer-group") == group.encode()]
    finally:
        await consumer.stop()
    return found


async def test_a_malformed_document_event_is_dead_lettered_with_its_reason_and_the_partition_goes_on(
        api: Api, producer: AIOKafkaProducer, infra: Any, prefix: str, unique: str) -> None:
    paul, someone_else = patient(date(1948, 7, 30), unique), patient(date(1999, 1, 9), unique)
    await publish(producer, paul,
                  b'{"event_id": "not json',
                  document_event(paul, f"ev-x-{unique}", change="deleted"),
                  document_event(someone_else, f"ev-k-{unique}"),  # on Paul's key: another patient's partition
                  document_event(paul, f"ev-ok-{unique}"))
    [notice] = await eventually(lambda: count(api, paul, 1), within_s=90)  # the bad ones did not block it
    assert notice["template"] == "document-added"
    assert await api.every(someone_else) == []
    dead = await dead_letters(infra.bootstrap, paul, f"{prefix}-notify", 3)
    assert [header(d, "dlq-kind") for d in dead] == ["invalid"] * 3
    reasons = [header(d, "dlq-reason") for d in dead]
    assert reasons[0].startswith("Invalid JSON")
    assert reasons[1:] == ["change: Input should be 'added', 'corrected' or 'withdrawn'",
                           "message key does not match the value's patient_matricule"]
    assert dead[0].value == b'{"event_id": "not json'  # the original bytes, for the producer to see
