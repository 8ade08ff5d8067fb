"""activation, access and notify on the real stack: each keeps its facts once and dead-letters bad input."""

from __future__ import annotations

import json
import mailbox
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from infra.procs import free_port
from services.kit.sealing import new_keypair, sealed_request_fields
from tests.integration.access_support import TopicReader
from tests.support import ROOT, Worker, as_caller, eventually, header, make_matricule, notify_public_key, read_topic


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """notify's outside world as real local servers (processes): an SMTP server and an HTTP SMS gateway."""
    tmp, smtp_port, sms_port = tmp_path_factory.mktemp("outside"), free_port(), free_port()
    sinks = [subprocess.Popen([sys.executable, "-m", "infra.sinks", "smtp", "--port", str(smtp_port),
                               "--maildir", str(tmp / "maildir")], cwd=ROOT),
             subprocess.Popen([sys.executable, "-m", "infra.sinks", "sms", "--port", str(sms_port),
                               "--file", str(tmp / "sms.jsonl")], cwd=ROOT)]
    for port in (smtp_port, sms_port):
        wait_port(port)
    yield {"env": {"DSP_NOTIFY_SMTP_PORT": str(smtp_port), "DSP_NOTIFY_SMS_URL": f"http://127.0.0.1:{sms_port}/sms",
                   "DSP_NOTIFY_LETTER_DIR": str(tmp / "letters")}, "maildir": tmp / "maildir"}
    for sink in sinks:
        sink.terminate()
        sink.wait(timeout=10)


@pytest.fixture(scope="module")
def workers(spawn_worker: Callable[..., Worker], outside: dict[str, Any]) -> Iterator[dict[str, Worker]]:
    """Stopped with the module: left running, this activation (its own code key) answered a later module's new
    person too, and notify, which keeps one delivery per request id, sent its letter rather than the module's own
    (a wrong code; seen when the modules ran in another order, on parallel workers)."""
    started = {"activation": spawn_worker("activation"), "access": spawn_worker("access"),
               "notify": spawn_worker("notify", **outside["env"])}
    yield started
    for worker in started.values():
        worker.stop()


def person(matricule: str, unique: str, **overrides: Any) -> dict[str, Any]:
    body = {"message_id": f"reg-{unique}", "matricule": matricule, "given_name": "Marie", "family_name": "Weber",
            "birth_date": f"{matricule[:4]}-{matricule[4:6]}-{matricule[6:8]}",
            "postal_address": {"line1": "12 rue de l'Alzette", "postal_code": "L-4011", "locality": "Esch"},
            "email": "marie.weber@example.lu", "mobile": "+352621123456"}
    return {**body, **overrides}


async def test_activation_keeps_registry_persons_once(workers: dict[str, Worker], producer: AIOKafkaProducer,
                                                      mongo: AsyncMongoClient[dict[str, Any]], run_id: str,
                                                      unique: str, infra: Any) -> None:
    child = make_matricule(date(2015, 6, 1), int(unique[:3], 16) % 1000)
    parent = make_matricule(date(1984, 3, 9), 12)
    body = json.dumps(person(child, unique, guardians=[parent])).encode()
    await producer.send_and_wait("registry.persons.v1", body, key=child.encode())
    await producer.send_and_wait("registry.persons.v1", body, key=child.encode())
    bad = person(child, unique + "b", birth_date="2015-06-02")
    await producer.send_and_wait("registry.persons.v1", json.dumps(bad).encode(), key=f"bad-{unique}".encode())

    persons = mongo[f"{run_id}_activation"]["persons"]
    stored = await eventually(lambda: persons.find_one({"_id": child}))
    assert stored["guardians"] == [parent]
    assert stored["postal_address"]["postal_code"] == "L-4011"
    assert await persons.count_documents({"_id": child}) == 1
    dead = await read_topic(infra.bootstrap, "registry.persons.v1.dlq", f"bad-{unique}".encode(), count=1)
    assert header(dead[0], "dlq-reason") == ("Value error, birth_date does not match the birth date encoded in "
                                             "the matricule")
    logs = workers["activation"].logs()
    assert child not in logs and parent not in logs and "marie.weber" not in logs
    assert '"minor": true' in logs


async def test_access_keeps_the_professional_directory(workers: dict[str, Worker], producer: AIOKafkaProducer,
                                                       mongo: AsyncMongoClient[dict[str, Any]], run_id: str,
                                                       unique: str, infra: Any) -> None:
    pro = {"message_id": f"dir-{unique}", "professional_id": f"PRO-{unique}", "given_name": "Paul",
           "family_name": "Hoffmann", "profession": "Médecin", "specialty": "Médecine générale",
           "practice_id": "CAB-1"}
    await producer.send_and_wait("directory.professionals.v1", json.dumps(pro).encode(),
                                 key=pro["professional_id"].encode())
    missing = {k: v for k, v in pro.items() if k != "profession"}
    await producer.send_and_wait("directory.professionals.v1", json.dumps(missing).encode(),
                                 key=f"bad-{unique}".encode())

    stored = await eventually(lambda: mongo[f"{run_id}_access"]["professionals"].find_one({"_id": f"PRO-{unique}"}))
    assert stored["specialty"] == "Médecine générale" and stored["active"] is True
    dead = await read_topic(infra.bootstrap, "directory.professionals.v1.dlq", f"bad-{unique}".encode(), count=1)
    assert header(dead[0], "dlq-reason") == "profession: Field required"


async def test_notify_delivers_each_request_once_and_keeps_no_code(
        workers: dict[str, Worker], producer: AIOKafkaProducer, mongo: AsyncMongoClient[dict[str, Any]],
        run_id: str, unique: str, infra: Any, outside: dict[str, Any]) -> None:
    base = {"template_id": "document-added", "locale": "fr", "recipient": "1893120105732",
            "parameters": {"title": "Hémogramme"}}
    inapp = {**base, "request_id": f"in-{unique}", "channel": "inapp"}
    email = {**base, "request_id": f"em-{unique}", "channel": "email", "template_id": "one-time-code",
             "parameters": {"code": "482913"}, "destination": f"m-{unique}@example.lu"}
    for req in (inapp, inapp, email, email, {**base, "request_id": f"bad-{unique}", "channel": "fax"}):
        await producer.send_and_wait("notify.requests.v1", json.dumps(req).encode(), key=req["request_id"].encode())

    outbox = mongo[f"{run_id}_notify"]["outbox"]
    sent = await eventually(lambda: outbox.find_one({"_id": f"em-{unique}", "status": "delivered"}), within_s=90)
    assert sent["parameters"] == {"code": "[sent, not kept]"} and sent["attempts"] == 1
    mails = [m for m in mailbox.Maildir(str(outside["maildir"]), create=False) if m["To"] == f"m-{unique}@example.lu"]
    assert len(mails) == 1 and "482913" in mails[0].get_payload(decode=True).decode()  # redelivered: sent once
    assert "482913" not in workers["notify"].logs()
    delivered = await eventually(lambda: outbox.find_one({"_id": f"in-{unique}", "status": "delivered"}),
                                 within_s=90)  # its own partition may still have history to go through
    assert delivered["read"] is False and delivered["body"] == "Un nouveau document est dans votre DSP : Hémogramme."
    assert await outbox.count_documents({"_id": f"in-{unique}"}) == 1
    dead = await read_topic(infra.bootstrap, "notify.requests.v1.dlq", f"bad-{unique}".encode(), count=1)
    assert header(dead[0], "dlq-reason").startswith("channel: Input should be")

    async def resent() -> list[bytes]:  # the redelivered request re-sends the stored delivery event, as stored
        events = await read_topic(infra.bootstrap, "notify.events.v1", f"em-{unique}".encode(), count=1, within_s=5)
        return [e.value for e in events] if len(events) >= 2 else []

    events = await eventually(resent, within_s=60)
    assert len(set(events)) == 1 and json.loads(events[0])["status"] == "delivered"


async def test_notify_opens_sealed_codes_to_send_them_and_never_keeps_them(
        workers: dict[str, Worker], producer: AIOKafkaProducer, mongo: AsyncMongoClient[dict[str, Any]],
        run_id: str, unique: str, infra: Any, outside: dict[str, Any]) -> None:
    code = f"{int(unique, 16) % 10**8:08d}"
    to = f"s-{unique}@example.lu"
    fields = {"request_id": f"seal-{unique}", "channel": "email", "recipient": "1893120105732", "destination": to}
    sealed = {**fields, "template_id": "one-time-code", "locale": "en", "parameters": {},
              **sealed_request_fields(notify_public_key(), {"code": code}, **fields)}
    stranger = {**fields, "request_id": f"sealbad-{unique}"}  # sealed to a key that is not notify's
    stranger.update({"template_id": "one-time-code", **sealed_request_fields(new_keypair()[1], {"code": code},
                                                                             **stranger)})
    copied = {**sealed, "request_id": f"sealcopy-{unique}", "destination": f"mallory-{unique}@example.com"}
    for req in (sealed, stranger, copied):
        await producer.send_and_wait("notify.requests.v1", json.dumps(req).encode(), key=req["request_id"].encode())

    on_topic = await read_topic(infra.bootstrap, "notify.requests.v1", f"seal-{unique}".encode(), count=1)
    assert b'"sealed_parameters"' in on_topic[0].value and code.encode() not in on_topic[0].value

    outbox = mongo[f"{run_id}_notify"]["outbox"]
    sent = await eventually(lambda: outbox.find_one({"_id": f"seal-{unique}", "status": "delivered"}), within_s=90)
    assert sent["parameters"] == {"code": "[sent, not kept]"}
    assert code not in json.dumps(sent, default=str) and "sealed_parameters" not in sent
    mails = [m for m in mailbox.Maildir(str(outside["maildir"]), create=False) if m["To"] == to]
    assert len(mails) == 1 and f"Your eSanté one-time code: {code} " in mails[0].get_payload(decode=True).decode()

    dead = await read_topic(infra.bootstrap, "notify.requests.v1.dlq", f"sealbad-{unique}".encode(), count=1)
    assert header(dead[0], "dlq-kind") == "invalid" and header(dead[0], "dlq-exception-type") == "BadMessage"
    assert header(dead[0], "dlq-reason") == ("sealed_parameters: sealed parameters do not open with notify's key "
                                             "(sealed to another key, or altered)")
    assert dead[0].value == json.dumps(stranger).encode()  # the original bytes: still only ciphertext
    refused = await outbox.find_one({"_id": f"sealbad-{unique}"})
    assert refused is not None and refused["status"] == "failed" and refused["attempts"] == 1  # never retried
    moved = await read_topic(infra.bootstrap, "notify.requests.v1.dlq", f"sealcopy-{unique}".encode(), count=1)
    assert header(moved[0], "dlq-reason") == "sealed_parameters: sealed parameters were sealed for another request"
    assert not [m for m in mailbox.Maildir(str(outside["maildir"]), create=False) if "mallory" in (m["To"] or "")]
    assert code not in workers["notify"].logs()


async def test_health_readiness_metrics_and_asyncapi(workers: dict[str, Worker], records: Worker,
                                                     producer: AIOKafkaProducer, unique: str) -> None:
    for worker in [*workers.values(), records]:
        assert worker.http("/health/live") == (200, '{"status":"live"}')
        assert worker.http("/health/ready") == (200, '{"status":"ready","kafka":true,"mongo":true}')
        status, page = worker.http("/asyncapi")
        assert status == 200 and "asyncapi" in page.lower()
    await producer.send_and_wait("lab.results.v1", b"not json", key=f"LAB-{unique}:R1".encode())

    async def dead_letter_metric() -> str:
        status, metrics = records.http("/metrics")
        assert status == 200
        lines = ['dsp_dead_letters_total{kind="invalid",service="records",topic="lab.results.v1"}',
                 'dsp_records_lab_results_total{outcome="rejected"}', "dsp_records_ingest_latency_seconds_bucket",
                 "dsp_received_messages_total"]
        return metrics if all(line in metrics for line in lines) else ""

    assert await eventually(dead_letter_metric)


async def test_access_worker_logs_never_carry_a_matricule_or_a_password(
        workers: dict[str, Worker], producer: AIOKafkaProducer, mongo: AsyncMongoClient[dict[str, Any]],
        run_id: str, unique: str, infra: Any) -> None:
    patient = make_matricule(date(1975, 1, 1), int(unique[:3], 16) % 1000)
    await producer.send_and_wait("registry.persons.v1", json.dumps(person(patient, unique)).encode(),
                                 key=patient.encode())
    await eventually(lambda: mongo[f"{run_id}_access"]["persons"].find_one({"_id": patient}))
    outcomes = await TopicReader(infra.bootstrap, "access.events.v1").start()
    port, gateway = workers["access"].port, {"content-type": "application/json", **as_caller("gateway", "access")}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=gateway) as http:
            generated = await http.post("/v1/presence/generate", json={
                "command_id": f"gen-{unique}", "patient": patient, "actor": {"kind": "patient", "id": patient},
                "delivery": "inapp"})
            assert generated.status_code == 202, generated.text
            password = generated.json()["presence_password"]
            await outcomes.wait(command_id=f"gen-{unique}")
            wrong = await http.post("/v1/presence/redeem", json={
                "command_id": f"redeem-{unique}", "patient": patient, "professional_id": f"PRO-{unique}",
                "password": "QWER-TYUP"})
            assert wrong.status_code == 403
        forged = {"command": "redeem-presence-password", "command_id": f"forged-{unique}", "patient": patient,
                  "actor": {"kind": "professional", "id": f"PRO-{unique}"}}
        await producer.send_and_wait("access.commands.v1", json.dumps(forged).encode(), key=patient.encode())
        await outcomes.wait(command_id=f"forged-{unique}")
    finally:
        await outcomes.stop()
    async def both_logged() -> str:  # the log line follows the outcome event
        logs = workers["access"].logs()
        return logs if "access command applied" in logs and "access command refused" in logs else ""

    logs = await eventually(both_logged)
    assert patient not in logs and "QWER-TYUP" not in logs and password not in logs


def wait_port(port: int, within_s: float = 20) -> None:
    import socket
    import time

    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


async def test_each_worker_tells_the_console_its_counters_and_nobody_else(workers: dict[str, Worker],
                                                                         records: Worker) -> None:
    """The console never opens a service's database: each service answers `/v1/stats` to the console only."""
    expected = {"records": {"lab_results_stored"}, "activation": {"activated", "logged_in"},
                "access": {"grants"}, "notify": {"letters_sent", "channels"}}
    for name, worker in {**workers, "records": records}.items():
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{worker.port}", timeout=10) as client:
            reply = await client.post("/v1/stats", json={}, headers=as_caller("console", name))
            assert reply.status_code == 200, (name, reply.text)
            assert expected[name] <= reply.json().keys(), (name, reply.json())
            counts = [v for v in reply.json().values() if isinstance(v, int)]
            assert all(n >= 0 for n in counts)
            refused = await client.post("/v1/stats", json={}, headers=as_caller("gateway", name))
            assert refused.status_code == 403, (name, refused.text)
            anonymous = await client.post("/v1/stats", json={})
            assert anonymous.status_code == 401, (name, anonymous.text)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{workers['access'].port}", timeout=10) as client:
        grants = (await client.post("/v1/stats", json={}, headers=as_caller("console", "access"))).json()["grants"]
    assert set(grants) == {"active", "expiring_24h", "expired"}
