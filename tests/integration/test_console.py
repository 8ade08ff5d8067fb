"""The operations console on the real Kafka and FerretDB: operators created with the CLI, a login page typed into
by a real headless Chromium (Debian's chromium + chromedriver, driven by selenium), the dashboard kept live by
server-sent events, dead letters inspected (masked, then unmasked) and replayed by a replayer — each audited with
their name — and, over plain HTTP, everything a stranger, a viewer or a forged request is refused.

The console runs in the test process with a FakeClock, so idle and absolute session ends and the login slow-down are
tested by moving the clock, never by sleeping."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo import AsyncMongoClient
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from infra.procs import free_port
from services.console.app import ConsoleSettings, create_app
from services.kit import labsign
from services.kit.servicetokens import Verifier, parse_public_keys
from tests.inprocess import FakeClock, InProcessWorker, settings_from
from tests.support import (
    ROOT,
    Worker,
    encode,
    eventually,
    fixed_service_public_keys,
    kafka_options,
    lab_result,
    laboratory_key,
    make_matricule,
    read_topic,
)

ARTIFACTS = ROOT / "build" / "artifacts"
MATRICULE = "1893120105732"
HIV = {"loinc": "7917-8", "display": "HIV 1+2 Ab", "value_text": "Positif", "interpretation": "A"}
PASSWORDS = {"alice": secrets.token_urlsafe(18), "victor": secrets.token_urlsafe(18)}


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def cli_env(infra: Any, run_id: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "DSP_MONGO_URI": infra.mongo_uri, "DSP_MONGO_DB_PREFIX": run_id}


def cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.console", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def operators(cli_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """alice (replayer, password from a file) and victor (viewer, password on stdin), made with the CLI."""
    secret = tmp_path_factory.mktemp("operators") / "alice.password"
    secret.write_text(PASSWORDS["alice"] + "\n")
    made = cli(cli_env, "add-operator", "alice", "--role", "replayer", "--password-file", str(secret))
    assert made.returncode == 0 and "operator alice created with role replayer" in made.stdout, made.stderr
    made = cli(cli_env, "add-operator", "victor", "--role", "viewer", stdin=PASSWORDS["victor"] + "\n")
    assert made.returncode == 0, made.stderr
    return PASSWORDS


@pytest.fixture(scope="module")
def console(infra: Any, run_id: str, records: Worker, clock: FakeClock, operators: dict[str, str]) -> Iterator[str]:
    port = free_port()
    app = create_app(settings_from(ConsoleSettings, {
        "DSP_KAFKA_BOOTSTRAP": infra.bootstrap, "DSP_MONGO_URI": infra.mongo_uri, "DSP_MONGO_DB_PREFIX": run_id,
        "DSP_KAFKA_GROUP_PREFIX": f"{run_id}-", "DSP_LOG_PSEUDONYM_KEY": secrets.token_hex(24),
        "DSP_CONSOLE_HTTP_PORT": str(port), "DSP_CONSOLE_REFRESH_S": "0.5",
        "DSP_CONSOLE_SECURE_COOKIES": "false",  # plain HTTP on loopback, as `make run` serves it
        "DSP_CONSOLE_WORKER_URLS": f"records=http://127.0.0.1:{records.port}"}), clock=clock)
    worker = InProcessWorker(app, port).start()  # type: ignore[arg-type]
    yield f"http://127.0.0.1:{port}"
    worker.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "Debian's chromium and chromium-driver are installed by `make deps`"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1300",
                 "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # CSP violations are reported there
    chrome = webdriver.Chrome(options=options, service=Service(driver))
    yield chrome
    chrome.quit()


@pytest.fixture
async def audit(mongo: AsyncMongoClient[dict[str, Any]], run_id: str) -> Any:
    return mongo[f"{run_id}_console"]["audit"]


def number(browser: webdriver.Chrome, element_id: str) -> int | None:
    text = browser.find_element(By.ID, element_id).text.strip()
    return int(text) if text.isdigit() else None


SHOWN = ("status", "operator", "lab-results", "workers", "dlq", "dlq-topic", "letters", "payload-mode", "payload",
         "replayed")


async def until(browser: webdriver.Chrome, condition: Any, what: str, within_s: float = 60) -> Any:
    """`condition`'s value once the page satisfies it (tables re-rendered meanwhile are read again); if it does not
    within `within_s`, the test fails naming what it waited for and what the page showed then."""
    wait = WebDriverWait(browser, within_s, poll_frequency=0.3,
                         ignored_exceptions=(StaleElementReferenceException,))
    try:
        return await asyncio.to_thread(wait.until, condition)
    except TimeoutException:
        shown = {i: [e.text for e in browser.find_elements(By.ID, i)] for i in SHOWN}
        pytest.fail(f"not within {within_s} s: {what}; at {browser.current_url} the page showed {shown}")


def clicked(css: str) -> Any:
    """A condition that clicks the element (found again if the page re-rendered it between finding and clicking)."""
    def click(browser: webdriver.Chrome) -> bool:
        browser.find_element(By.CSS_SELECTOR, css).click()
        return True
    return click


# a laboratory id is never nine digits in a row (the masking hides such runs anywhere: a random hex `unique` is all
# digits about once in a hundred), hence the letter in LAB-{unique[:4]}x{unique[4:]}
async def bad_hiv_result(producer: AIOKafkaProducer, bootstrap: str, lab: str) -> Any:
    """A result the records worker dead-letters (an unknown status), with a matricule and an HIV result inside;
    its dead letter."""
    body = lab_result(lab, report="HIV", message_id=f"{lab}-hiv", status="bogus",
                      observations=[*lab_result(lab)["observations"], HIV])
    await producer.send_and_wait("lab.results.v1", encode(body), key=f"{lab}:HIV".encode())
    return (await read_topic(bootstrap, "lab.results.v1.dlq", f"{lab}:HIV".encode(), 1))[0]


def where(letter: Any) -> dict[str, Any]:
    return {"topic": letter.topic, "partition": letter.partition, "offset": letter.offset}


@pytest.fixture
async def http(console: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=console, timeout=30) as client:
        yield client


def client_of(console: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=console, timeout=30)


async def log_in(client: httpx.AsyncClient, name: str, password: str) -> str:
    """Log `client` in through the login form; the CSRF token of its session (from the dashboard page)."""
    form = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token, form.text
    done = await client.post("/login", data={"csrf": token[1], "name": name, "password": password})
    assert done.status_code == 303 and done.headers["location"] == "/", done.text
    page = await client.get("/")
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert page.status_code == 200 and csrf, page.text
    return csrf[1]


async def attempt(console: str, name: str, password: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=console, timeout=30) as client:
        form = await client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token
        return await client.post("/login", data={"csrf": token[1], "name": name, "password": password})


async def test_an_operator_logs_in_sees_the_live_dashboard_and_replays_a_dead_letter(
        console: str, browser: webdriver.Chrome, producer: AIOKafkaProducer, unique: str, infra: Any,
        audit: Any, operators: dict[str, str]) -> None:
    browser.get(console)
    assert browser.current_url.endswith("/login")  # no session: the login page
    browser.find_element(By.ID, "name").send_keys("alice")
    browser.find_element(By.ID, "password").send_keys(operators["alice"])
    browser.find_element(By.ID, "login").click()
    [before] = await until(browser, lambda b: [n] if (n := number(b, "lab-results")) is not None else None,
                           "records' count of lab results on the dashboard")  # server-sent events flow
    assert browser.find_element(By.ID, "operator").text == "alice"
    assert "ready" in browser.find_element(By.ID, "workers").text

    lab = f"LAB-{unique[:4]}x{unique[4:]}"
    for i in range(5):
        await producer.send_and_wait("lab.results.v1", encode(lab_result(lab, report=f"R{i}", message_id=f"m{i}")),
                                     key=f"{lab}:R{i}".encode())
    await until(browser, lambda b: (number(b, "lab-results") or 0) >= before + 5, f"{before} + 5 lab results")

    letter = await bad_hiv_result(producer, infra.bootstrap, lab)
    await until(browser, lambda b: "lab.results.v1.dlq" in b.find_element(By.ID, "dlq").text, "the DLQ's depth")
    # the depth table is re-rendered by every event: a button gone stale before the click is found again
    await until(browser, clicked('button.inspect[data-topic="lab.results.v1.dlq"]'), "the DLQ's inspect button")
    mine = f'[data-topic="{letter.topic}"][data-partition="{letter.partition}"][data-offset="{letter.offset}"]'
    await until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, f"button.payload{mine}"),
                f"the dead letter {letter.partition}/{letter.offset} listed")
    browser.find_element(By.CSS_SELECTOR, f"button.payload{mine}").click()
    await until(browser, lambda b: "masked" == b.find_element(By.ID, "payload-mode").text, "the masked payload")
    masked = browser.find_element(By.ID, "payload").text
    assert "HIV 1+2 Ab" in masked and "•••" in masked
    assert MATRICULE not in masked and "Positif" not in masked and "13.9" not in masked
    browser.find_element(By.ID, "unmask").click()
    await until(browser, lambda b: "unmasked" == b.find_element(By.ID, "payload-mode").text, "the payload unmasked")
    unmasked = browser.find_element(By.ID, "payload").text
    assert MATRICULE in unmasked and "Positif" in unmasked

    browser.find_element(By.CSS_SELECTOR, f"button.replay{mine}").click()
    await until(browser, lambda b: "replayed lab.results.v1.dlq" in b.find_element(By.ID, "replayed").text,
                "the replay's confirmation")
    assert browser.find_element(By.ID, "replayed").text.endswith("by alice")

    views = await audit.find({"action": "payload-view", "dlq": letter.topic, "partition": letter.partition,
                              "offset": letter.offset}).to_list(None)
    assert sorted((v["operator"], v["unmasked"]) for v in views) == [("alice", False), ("alice", True)]
    entry = await eventually(lambda: audit.find_one({"action": "replay", "dlq": "lab.results.v1.dlq", "state": "done",
                                                     "partition": letter.partition, "offset": letter.offset}))
    assert entry["operator"] == "alice" and entry["role"] == "replayer" and entry["source"] == "lab.results.v1"
    replayed = await record_at(infra.bootstrap, "lab.results.v1", entry["replayed_to_partition"],
                               entry["replayed_to_offset"])
    headers = dict(replayed.headers)
    assert headers["dsp-replayed-from"].decode() == f"lab.results.v1.dlq/{letter.partition}/{letter.offset}"
    assert headers["dsp-replayed-by"] == b"alice" and replayed.value == letter.value
    signature = headers[labsign.HEADER].decode()  # the laboratory's signature went to the DLQ and back: it verifies
    assert signature == dict(letter.headers)[labsign.HEADER].decode()
    assert labsign.verify(signature, labsign.public_key(laboratory_key(lab).public), "lab.results.v1", replayed.key,
                          replayed.value)["kid"] == laboratory_key(lab).kid

    refused = [e["message"] for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]
    assert refused == []  # Plotly, the page's script and styles all load under a CSP without 'unsafe-inline'

    browser.find_element(By.CSS_SELECTOR, f"button.payload{mine}").click()  # the screenshot shows it masked
    await until(browser, lambda b: "masked" == b.find_element(By.ID, "payload-mode").text, "the payload masked again")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = Path(ARTIFACTS / "console.png")
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000  # noqa: ASYNC240 - one local file, after the test

    browser.find_element(By.ID, "logout").click()
    await until(browser, lambda b: b.current_url.endswith("/login"), "the login page after logging out")
    assert (await audit.find_one({"action": "logout", "operator": "alice"})) is not None


async def test_without_a_session_only_the_login_page_answers(http: httpx.AsyncClient) -> None:
    for path in ("/api/dlq?topic=lab.results.v1.dlq", "/api/snapshot", "/api/stream", "/api/me"):
        assert (await http.get(path)).status_code == 401, path
    page = await http.get("/")
    assert page.status_code == 303 and page.headers["location"] == "/login"
    for path in ("/api/dlq/replay", "/api/dlq/payload"):
        assert (await http.post(path, json={"topic": "lab.results.v1.dlq", "partition": 0, "offset": 0})
                ).status_code == 401
    async with httpx.AsyncClient(base_url=str(http.base_url), cookies={"dsp-console": secrets.token_urlsafe(32)}) as c:
        assert (await c.get("/api/dlq?topic=lab.results.v1.dlq")).status_code == 401  # a made-up session token
    assert (await http.get("/login")).status_code == 200


async def test_a_viewer_sees_where_when_and_why_but_no_payload_and_cannot_replay(
        console: str, producer: AIOKafkaProducer, infra: Any, unique: str, audit: Any,
        operators: dict[str, str]) -> None:
    letter = await bad_hiv_result(producer, infra.bootstrap, f"LAB-{unique[:4]}x{unique[4:]}")
    async with client_of(console) as client:
        csrf = await log_in(client, "victor", operators["victor"])
        listed = await client.get("/api/dlq", params={"topic": "lab.results.v1.dlq", "limit": 200})
        assert listed.status_code == 200
        mine = [x for x in listed.json() if x["partition"] == letter.partition and x["offset"] == letter.offset]
        assert mine and mine[0]["reason"] and mine[0]["kind"] == "invalid" and mine[0]["failed_at"]
        assert set(mine[0]) == {"topic", "partition", "offset", "reason", "kind", "service", "exception_type",
                                "failed_at", "replayed"}  # no key, no headers, no value
        assert MATRICULE not in listed.text and "Positif" not in listed.text
        for path, body in (("/api/dlq/payload", where(letter)), ("/api/dlq/payload", {**where(letter),
                                                                                       "unmasked": True}),
                           ("/api/dlq/replay", where(letter))):
            refused = await client.post(path, json=body, headers={"x-csrf-token": csrf})
            assert refused.status_code == 403 and "replayer" in refused.json()["detail"], path
    assert await audit.find_one({"operator": "victor", "action": {"$in": ["payload-view", "replay"]}}) is None


async def test_a_replayer_sees_masked_payloads_unless_asking_and_every_view_is_audited(
        console: str, producer: AIOKafkaProducer, infra: Any, unique: str, audit: Any,
        operators: dict[str, str]) -> None:
    letter = await bad_hiv_result(producer, infra.bootstrap, f"LAB-{unique[:4]}x{unique[4:]}")
    async with client_of(console) as client:
        csrf = await log_in(client, "alice", operators["alice"])
        masked = await client.post("/api/dlq/payload", json=where(letter), headers={"x-csrf-token": csrf})
        assert masked.status_code == 200, masked.text
        shown = masked.json()
        assert shown["value"]["masked"] and shown["value"]["json"] and shown["reason"]
        preview = json.loads(shown["value"]["text"])
        assert preview["patient_matricule"] == "•••" and preview["laboratory_id"] == f"LAB-{unique[:4]}x{unique[4:]}"
        assert preview["observations"][-1] == {"loinc": "7917-8", "display": "HIV 1+2 Ab", "value_text": "•••",
                                               "interpretation": "•••"}
        assert preview["observations"][0]["value"] == "•••" and preview["observations"][0]["unit"] == "g/dL"
        assert MATRICULE not in masked.text and "Positif" not in masked.text
        plain = await client.post("/api/dlq/payload", json={**where(letter), "unmasked": True},
                                  headers={"x-csrf-token": csrf})
        assert plain.status_code == 200 and not plain.json()["value"]["masked"]
        assert json.loads(plain.json()["value"]["text"])["observations"][-1] == HIV
    views = await audit.find({"action": "payload-view", "dlq": letter.topic, "partition": letter.partition,
                              "offset": letter.offset}).to_list(None)
    assert sorted((v["operator"], v["unmasked"]) for v in views) == [("alice", False), ("alice", True)]


async def test_every_write_needs_the_session_csrf_token_and_names_no_operator(
        console: str, producer: AIOKafkaProducer, infra: Any, unique: str, audit: Any,
        operators: dict[str, str]) -> None:
    letter = await bad_hiv_result(producer, infra.bootstrap, f"LAB-{unique[:4]}x{unique[4:]}")
    async with client_of(console) as alice, client_of(console) as victor:
        csrf = await log_in(alice, "alice", operators["alice"])
        victor_csrf = await log_in(victor, "victor", operators["victor"])
        for headers in ({}, {"x-csrf-token": "nope"}, {"x-csrf-token": victor_csrf}):  # another session's token
            for path in ("/api/dlq/replay", "/api/dlq/payload"):
                refused = await alice.post(path, json=where(letter), headers=headers)
                assert refused.status_code == 403 and "CSRF" in refused.json()["detail"], (path, headers)
        named = await alice.post("/api/dlq/replay", json={**where(letter), "operator": "someone-else"},
                                 headers={"x-csrf-token": csrf})
        assert named.status_code == 422  # the field is gone: the session says who replays
        text = await alice.post("/api/dlq/replay", content=json.dumps(where(letter)),
                                headers={"x-csrf-token": csrf, "content-type": "text/plain"})
        assert text.status_code == 415
        out = await alice.post("/logout", data={"csrf": "nope"})
        assert out.status_code == 403 and (await alice.get("/api/me")).status_code == 200  # still logged in
        out = await alice.post("/logout", data={"csrf": csrf})
        assert out.status_code == 303 and (await alice.get("/api/me")).status_code == 401
    assert await audit.find_one({"action": "replay", "dlq": letter.topic, "partition": letter.partition,
                                 "offset": letter.offset}) is None
    async with httpx.AsyncClient(base_url=console) as stranger:  # a login form posted from elsewhere
        forged = await stranger.post("/login", data={"csrf": "x", "name": "alice", "password": operators["alice"]})
        assert forged.status_code == 403 and "dsp-console" not in forged.cookies  # no session


async def test_another_host_is_refused_and_every_answer_carries_the_security_headers(
        console: str, http: httpx.AsyncClient, operators: dict[str, str]) -> None:
    port = console.rsplit(":", 1)[1]
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1:1", f"127.0.0.2:{port}"):
        refused = await http.get("/login", headers={"host": host})
        assert refused.status_code == 400, host
        assert "unsafe-inline" not in refused.headers["content-security-policy"]
    assert (await http.get("/login", headers={"host": f"localhost:{port}"})).status_code == 200
    async with client_of(console) as client:
        await log_in(client, "victor", operators["victor"])
        for path in ("/", "/login", "/api/dlq?topic=lab.results.v1.dlq", "/api/snapshot", "/api/nothing-here"):
            answer = await client.get(path)
            csp = answer.headers["content-security-policy"]
            assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp and "script-src 'self'" in csp, path
            assert "frame-ancestors 'none'" in csp
            assert answer.headers["x-frame-options"] == "DENY" and answer.headers["x-content-type-options"] == \
                "nosniff" and answer.headers["referrer-policy"] == "no-referrer", path
            assert answer.headers["cache-control"] == "no-store", path
        page = (await client.get("/")).text
        assert re.search(r"<style[\s>]|\sstyle=|<script>|\son[a-z]+=", page) is None  # no inline style or script
    cookie = (await http.get("/login")).headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


async def test_sessions_end_after_30_idle_minutes_and_after_8_hours(
        console: str, clock: FakeClock, operators: dict[str, str]) -> None:
    async with client_of(console) as client:
        await log_in(client, "victor", operators["victor"])
        for _ in range(3):
            clock.advance(minutes=29)
            assert (await client.get("/api/me")).status_code == 200  # each request pushes the idle end back
        clock.advance(minutes=31)
        assert (await client.get("/api/me")).status_code == 401
        assert (await client.get("/")).headers["location"] == "/login"
    async with client_of(console) as client:
        await log_in(client, "victor", operators["victor"])
        for _ in range(19):  # active all day: 19 × 25 min = 7 h 55 min
            clock.advance(minutes=25)
            assert (await client.get("/api/me")).status_code == 200
        clock.advance(minutes=6)
        assert (await client.get("/api/me")).status_code == 401


async def test_the_event_stream_works_behind_the_login_and_ends_with_the_session(
        console: str, clock: FakeClock, operators: dict[str, str]) -> None:
    events: list[str] = []
    async with client_of(console) as client:
        await log_in(client, "victor", operators["victor"])
        async with client.stream("GET", "/api/stream") as stream:
            assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
            async for line in stream.aiter_lines():
                if line.startswith("event: "):
                    events.append(line.removeprefix("event: "))
                    if events == ["snapshot"]:
                        clock.advance(minutes=31)  # an open page is no activity: the session ends on time
                    if events[-1] == "ended":
                        break
    assert events[0] == "snapshot" and events[-1] == "ended"


async def test_failed_logins_slow_a_name_down_but_never_lock_it(
        console: str, clock: FakeClock, audit: Any, operators: dict[str, str]) -> None:
    unknown = await attempt(console, "nobody-here", "whatever-password")
    wrong = await attempt(console, "alice", "not-her-password")
    assert unknown.status_code == wrong.status_code == 401
    assert "Wrong operator name or password." in unknown.text and "Wrong operator name or password." in wrong.text
    assert (await attempt(console, "alice", "still-not-it")).status_code == 401
    assert (await attempt(console, "alice", "third-time")).status_code == 401  # 3 failures: slowed from now on
    slowed = await attempt(console, "alice", operators["alice"])
    assert slowed.status_code == 429 and slowed.headers["retry-after"] == "2"  # even with the right password
    assert (await attempt(console, "victor", operators["victor"])).status_code == 303  # another name: unaffected
    waits = []
    for _ in range(12):  # a stranger keeps trying: the wait grows, up to a minute, never more
        clock.advance(seconds=61)
        assert (await attempt(console, "alice", "a-stranger-guess")).status_code == 401
        waits.append(int((await attempt(console, "alice", operators["alice"])).headers["retry-after"]))
    assert waits[:5] == [4, 8, 16, 32, 60] and max(waits) == 60
    clock.advance(seconds=61)
    assert (await attempt(console, "alice", operators["alice"])).status_code == 303  # not locked out
    assert (await attempt(console, "alice", "one-typo-after")).status_code == 401  # the count started again
    assert (await attempt(console, "alice", operators["alice"])).status_code == 303
    assert await audit.find_one({"action": "login-refused", "operator": "alice"}) is not None
    assert await audit.find_one({"operator": "nobody-here"}) is None  # a typed name that is no operator's
    burst = await asyncio.gather(*(attempt(console, "nobody-else", f"guess-{i}") for i in range(10)))
    assert sorted(r.status_code for r in burst) == [401] * 3 + [429] * 7  # parallel guesses wait their turn


async def test_operators_are_managed_with_the_cli_and_stored_as_argon2_hashes(
        console: str, cli_env: dict[str, str], mongo: AsyncMongoClient[dict[str, Any]], run_id: str,
        unique: str) -> None:
    name, password = f"op-{unique}", secrets.token_urlsafe(18)
    made = cli(cli_env, "add-operator", name, "--role", "viewer", stdin=password + "\n")
    assert made.returncode == 0, made.stderr
    stored = await mongo[f"{run_id}_console"]["operators"].find_one({"_id": name})
    assert stored["role"] == "viewer" and stored["password_hash"].startswith("$argon2id$")
    assert password not in json.dumps(stored, default=str)
    listed = cli(cli_env, "list-operators")
    assert re.search(rf"^{name}\s+viewer\s+created ", listed.stdout, re.M) and "argon2" not in listed.stdout
    again = cli(cli_env, "add-operator", name, "--role", "replayer", stdin=password + "\n")
    assert again.returncode == 1 and "exists" in again.stderr
    kept = cli(cli_env, "add-operator", name, "--role", "replayer", "--if-missing")
    assert kept.returncode == 0 and "left as it is" in kept.stdout
    short = cli(cli_env, "add-operator", f"x{unique}", "--role", "viewer", stdin="short\n")
    assert short.returncode == 2 and "12" in short.stderr

    async with client_of(console) as client:
        await log_in(client, name, password)
        assert (await client.get("/api/me")).json() == {"operator": name, "role": "viewer"}
        changed = cli(cli_env, "add-operator", name, "--role", "replayer", "--replace", stdin="a-new-password-1\n")
        assert changed.returncode == 0 and "replaced" in changed.stdout
        assert (await client.get("/api/me")).status_code == 401  # a new password ends the old sessions
    async with client_of(console) as client:
        await log_in(client, name, "a-new-password-1")
        assert (await client.get("/api/me")).json()["role"] == "replayer"
        gone = cli(cli_env, "remove-operator", name)
        assert gone.returncode == 0
        assert (await client.get("/api/me")).status_code == 401
    assert (await attempt(console, name, "a-new-password-1")).status_code == 401
    assert cli(cli_env, "remove-operator", name).returncode == 1


async def record_at(bootstrap: str, topic: str, partition: int, offset: int) -> Any:
    consumer = AIOKafkaConsumer(**kafka_options(bootstrap), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        return (await consumer.getone(tp))
    finally:
        await consumer.stop()


async def test_a_helpdesk_command_carries_the_operator_signed_by_the_console(
        console: str, operators: dict[str, str], infra: Any) -> None:
    matricule = make_matricule(date(1977, 7, 7), 321)
    async with client_of(console) as alice, client_of(console) as victor:
        csrf = await log_in(alice, "alice", operators["alice"])
        viewer_csrf = await log_in(victor, "victor", operators["victor"])
        body = {"command": "unlock", "matricule": matricule}
        assert (await victor.post("/api/helpdesk", json=body, headers={"x-csrf-token": viewer_csrf})).status_code == 403
        assert (await alice.post("/api/helpdesk", json=body)).status_code == 403  # no CSRF token
        assert (await alice.post("/api/helpdesk", json={**body, "operator": "someone"},
                                 headers={"x-csrf-token": csrf})).status_code == 422  # the session names who acts
        sent = await alice.post("/api/helpdesk", json=body, headers={"x-csrf-token": csrf})
        assert sent.status_code == 200, sent.text
    command_id = sent.json()["command_id"]
    [record] = [r for r in await read_topic(infra.bootstrap, "activation.commands.v1", matricule.encode(), count=1)
                if json.loads(r.value)["command_id"] == command_id]
    command = json.loads(record.value)
    claims = Verifier("activation", parse_public_keys(fixed_service_public_keys())).claims(
        command["operator_assertion"], ("console",))
    assert (command["operator"], claims["sub"], claims["cmd"], claims["matricule"]) == (
        "alice", "alice", command_id, matricule)
