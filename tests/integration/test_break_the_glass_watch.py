"""Break-the-glass on the real stack (issue 24, "Trust II"): access, notify and the operations console in this
process, Kafka and FerretDB real, the local SMTP server and SMS gateway real. A justification that does not read
like one is refused; each accepted one alerts the patient in the portal and on her own channel — the e-mail or SMS
she chose at activation (`activation.accounts.v1`), else the registry's e-mail; a professional who breaks the glass
on 3 patients appears in the console's answer (id and counts, no patient) and one who did so on one patient does
not. Access's time is a FakeClock."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from infra.procs import free_port
from infra.sinks import SmtpSink
from services.access.domain import emergency
from services.access.store import AccessStore
from services.console.app import ConsoleSettings
from services.console.app import create_app as console_app
from services.notify.app import NotifySettings
from services.notify.app import create_app as notify_app
from tests.inprocess import FakeClock, InProcessWorker, settings_from
from tests.integration.access_support import Gateway, TopicReader, access_worker, fresh_matricule, list_professionals
from tests.support import ROOT, encode, eventually, person

WHY = "Patient unconscious after a road accident, allergies unknown"
PASSWORD = secrets.token_urlsafe(18)


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def prefix(run_id: str) -> str:
    return f"{run_id}btg"  # its own databases and consumer groups


@pytest.fixture(scope="module")
def mesh(infra: Any, prefix: str, clock: FakeClock, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """access (the test's clock), notify with a real SMTP server and SMS gateway, the console watching access."""
    tmp = tmp_path_factory.mktemp("break-the-glass")
    smtp, sms_port = SmtpSink(free_port(), tmp / "maildir").start(), free_port()
    sms = subprocess.Popen([sys.executable, "-m", "infra.sinks", "sms", "--port", str(sms_port), "--file",
                            str(tmp / "sms.jsonl")], cwd=ROOT)
    pseudonym_key, notify_port, console_port = secrets.token_hex(24), free_port(), free_port()
    access = access_worker(infra, prefix, clock, pseudonym_key).start()
    notify = InProcessWorker(notify_app(settings_from(NotifySettings, {
        "DSP_KAFKA_BOOTSTRAP": infra.bootstrap, "DSP_MONGO_URI": infra.mongo_uri, "DSP_MONGO_DB_PREFIX": prefix,
        "DSP_KAFKA_GROUP_PREFIX": f"{prefix}-", "DSP_LOG_PSEUDONYM_KEY": pseudonym_key,
        "DSP_NOTIFY_HTTP_PORT": str(notify_port), "DSP_NOTIFY_SMTP_PORT": str(smtp.controller.port),
        "DSP_NOTIFY_SMS_URL": f"http://127.0.0.1:{sms_port}/sms", "DSP_NOTIFY_LETTER_DIR": str(tmp / "letters"),
        "DSP_RETRY_BACKOFF_MAX_S": "2"})), notify_port, audience="notify").start()
    made = subprocess.run([sys.executable, "-m", "services.console", "add-operator", "olga", "--role", "viewer"],
                          cwd=ROOT, input=PASSWORD + "\n", capture_output=True, text=True, timeout=60, check=False,
                          env={"PATH": "/usr/bin:/bin", "DSP_MONGO_URI": infra.mongo_uri,
                               "DSP_MONGO_DB_PREFIX": prefix})
    assert made.returncode == 0, made.stderr
    console = InProcessWorker(console_app(settings_from(ConsoleSettings, {  # type: ignore[arg-type]
        "DSP_KAFKA_BOOTSTRAP": infra.bootstrap, "DSP_MONGO_URI": infra.mongo_uri, "DSP_MONGO_DB_PREFIX": prefix,
        "DSP_KAFKA_GROUP_PREFIX": f"{prefix}-", "DSP_LOG_PSEUDONYM_KEY": pseudonym_key,
        "DSP_CONSOLE_HTTP_PORT": str(console_port), "DSP_CONSOLE_SECURE_COOKIES": "false",
        "DSP_CONSOLE_WORKER_URLS": f"access=http://127.0.0.1:{access.port},notify=http://127.0.0.1:{notify_port}"})),
        console_port).start()
    yield {"access": access, "notify": notify, "smtp": smtp, "sms": tmp / "sms.jsonl",
           "console": f"http://127.0.0.1:{console_port}"}
    console.stop()
    notify.stop()
    access.stop()
    sms.terminate()
    sms.wait(timeout=10)
    smtp.stop()


@pytest.fixture
async def gw(mesh: Any, producer: AIOKafkaProducer, infra: Any) -> AsyncIterator[Gateway]:
    outcomes = await TopicReader(infra.bootstrap, "access.events.v1").start()
    yield Gateway(producer, outcomes, mesh["access"])
    await outcomes.stop()


async def console_session(url: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=url, timeout=30)
    form = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token, form.text
    done = await client.post("/login", data={"csrf": token[1], "name": "olga", "password": PASSWORD})
    assert done.status_code == 303, done.text
    return client


def mails_to(smtp: SmtpSink, to: str) -> list[str]:
    return [m.get_payload(decode=True).decode() for m in smtp.messages() if m["To"] == to]


def sms_to(path: Path, to: str) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [sms["text"] for sms in map(json.loads, lines) if sms["to"] == to]


async def test_the_patient_is_alerted_on_her_channel_and_operators_see_who_breaks_the_glass_often(
        mesh: Any, gw: Gateway, mongo: Any, prefix: str, unique: str, clock: FakeClock) -> None:
    er, once = f"ER-{unique}", f"ONCE-{unique}"
    seed = int(unique[:4], 16)
    patients = [fresh_matricule(date(1961 + i, 4, 5), seed) for i in range(3)]
    registry = [f"p{i}-{unique}@example.lu" for i in range(3)]
    chose_mail, chose_sms = f"chosen-{unique}@example.lu", "+352691" + str(seed % 1_000_000).zfill(6)
    for m, mail in zip(patients, registry, strict=True):
        await gw.producer.send_and_wait("registry.persons.v1", encode(person(m, f"reg-{unique}-{m}", email=mail)),
                                        key=m.encode())
    await list_professionals(gw.producer, er, once)
    # at activation the first patient chose e-mail at an address she typed, the second SMS; the third said nothing
    for m, channel, where in ((patients[0], "email", chose_mail), (patients[1], "sms", chose_sms)):
        await gw.producer.send_and_wait("activation.accounts.v1", encode({
            "event_id": f"act-{unique}-{m}", "matricule": m, "minor": False, "luxtrust": False,
            "activated_at": clock().isoformat(), "channel": channel, "destination": where}), key=m.encode())
    access_db, notify_db = mongo[f"{prefix}_access"], mongo[f"{prefix}_notify"]
    for m in patients:
        await eventually(lambda m=m: access_db["persons"].find_one({"_id": m}))  # type: ignore[misc]
    await eventually(lambda: access_db["professionals"].find_one({"_id": once}))
    for m in patients[:2]:
        await eventually(lambda m=m: notify_db["contacts"].find_one(  # type: ignore[misc]
            {"_id": m, "preferred": {"$exists": True}}))

    noise = await gw.run(patients[0], "break-the-glass", ("professional", er), justification="aaaaaaaaaaaaaaa")
    assert (noise["accepted"], noise["reason"]) == (False, emergency.REPEATS)
    for m in patients:
        used = await gw.run(m, "break-the-glass", ("professional", er), justification=WHY)
        assert used["accepted"], used
    assert (await gw.run(patients[0], "break-the-glass", ("professional", once), justification=WHY))["accepted"]

    # each patient: the alert on her own channel (the one she chose, else the registry's e-mail), and in the portal
    mailed = await eventually(lambda: _some(mails_to(mesh["smtp"], chose_mail)))
    assert WHY in mailed[0] and "en urgence" in mailed[0]
    assert not [b for b in mails_to(mesh["smtp"], registry[0]) if WHY in b]  # not the registry's address
    texted = await eventually(lambda: _some(sms_to(mesh["sms"], chose_sms)))
    assert WHY in texted[0]
    assert WHY in (await eventually(lambda: _some(mails_to(mesh["smtp"], registry[2]))))[0]
    for m in patients:
        status, page = mesh["notify"].http("POST", "/v1/notifications/list", encode({"recipient": m}))
        assert status == 200
        assert "emergency-access-used" in {n["template"] for n in json.loads(page)["items"]}

    # operations: the console's JSON API names the professional who broke the glass on 3 patients, and no patient
    console = await console_session(mesh["console"])
    try:
        async def watched() -> dict[str, Any] | None:
            snapshot: dict[str, Any] = (await console.get("/api/snapshot")).json()
            return snapshot if snapshot["break_the_glass"]["professionals"] else None
        snapshot = await eventually(watched)
        page = await console.get("/")
    finally:
        await console.aclose()
    glass = snapshot["break_the_glass"]
    assert (glass["window_hours"], glass["threshold"]) == (24, 3)
    assert [(p["professional_id"], p["patients"], p["uses"]) for p in glass["professionals"]] == [(er, 3, 3)]
    assert not any(m in json.dumps(snapshot) for m in patients)
    assert 'id="glass"' in page.text  # the dashboard's list, filled from the snapshot

    # a day later nobody is shown; the counts are pruned once no window needs them
    clock.advance(hours=24)
    assert mesh["access"].http("POST", "/v1/stats", b"{}")[0] == 403  # the gateway may not ask: the console only
    store = AccessStore(access_db)
    assert await store.glass_broken_since(clock() - emergency.WINDOW, clock()) == []
    assert await store.prune_counters(clock() + timedelta(hours=25)) >= 4
    assert await access_db["emergency_uses"].count_documents({}) == 0


async def _some(found: list[str]) -> list[str] | None:
    return found or None
