"""The operations console in a real headless Chromium (Debian's chromium + chromedriver, driven by selenium):
the page loads, its numbers move when a laboratory publishes, and a dead letter is inspected and replayed."""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo import AsyncMongoClient
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from infra.procs import free_port
from services.console.app import ConsoleSettings, create_app
from tests.inprocess import InProcessWorker, settings_from
from tests.support import ROOT, Worker, encode, eventually, lab_result

ARTIFACTS = ROOT / "build" / "artifacts"


@pytest.fixture(scope="module")
def console(infra: Any, run_id: str, records: Worker) -> Iterator[str]:
    port = free_port()
    app = create_app(settings_from(ConsoleSettings, {
        "DSP_KAFKA_BOOTSTRAP": infra.bootstrap, "DSP_MONGO_URI": infra.mongo_uri, "DSP_MONGO_DB_PREFIX": run_id,
        "DSP_KAFKA_GROUP_PREFIX": f"{run_id}-", "DSP_LOG_PSEUDONYM_KEY": secrets.token_hex(24),
        "DSP_CONSOLE_HTTP_PORT": str(port), "DSP_CONSOLE_REFRESH_S": "0.5",
        "DSP_CONSOLE_WORKER_URLS": f"records=http://127.0.0.1:{records.port}"}))
    worker = InProcessWorker(app, port).start()  # type: ignore[arg-type]
    yield f"http://127.0.0.1:{port}"
    worker.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "Debian's chromium and chromium-driver are installed by `make deps`"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1100",
                 "--disable-dev-shm-usage"):
        options.add_argument(flag)
    chrome = webdriver.Chrome(options=options, service=Service(driver))
    yield chrome
    chrome.quit()


def number(browser: webdriver.Chrome, element_id: str) -> int | None:
    text = browser.find_element(By.ID, element_id).text.strip()
    return int(text) if text.isdigit() else None


async def test_the_console_is_live_and_replays_a_dead_letter(console: str, browser: webdriver.Chrome,
                                                             producer: AIOKafkaProducer, unique: str, infra: Any,
                                                             mongo: AsyncMongoClient[dict[str, Any]],
                                                             run_id: str) -> None:
    browser.get(console)
    wait = WebDriverWait(browser, 60, poll_frequency=0.3)
    await asyncio.to_thread(wait.until, lambda b: number(b, "lab-results") is not None)
    before = number(browser, "lab-results") or 0
    assert "ready" in browser.find_element(By.ID, "workers").text

    lab = f"LAB-{unique}"
    for i in range(5):
        await producer.send_and_wait("lab.results.v1", encode(lab_result(lab, report=f"R{i}", message_id=f"m{i}")),
                                     key=f"{lab}:R{i}".encode())
    await asyncio.to_thread(wait.until, lambda b: (number(b, "lab-results") or 0) >= before + 5)

    await producer.send_and_wait("lab.results.v1", b"{not json", key=f"bad-{unique}".encode())
    await asyncio.to_thread(wait.until, lambda b: "lab.results.v1.dlq" in b.find_element(By.ID, "dlq").text)
    browser.find_element(By.CSS_SELECTOR, 'button.inspect[data-topic="lab.results.v1.dlq"]').click()
    await asyncio.to_thread(wait.until, lambda b: b.find_elements(By.CSS_SELECTOR, "button.replay"))
    browser.find_elements(By.CSS_SELECTOR, "button.replay")[0].click()
    await asyncio.to_thread(wait.until, lambda b: "replayed lab.results.v1.dlq" in
                            b.find_element(By.ID, "replayed").text)

    replays = mongo[f"{run_id}_console"]["replays"]
    entry = await eventually(lambda: replays.find_one({"dlq": "lab.results.v1.dlq"}))
    assert entry["operator"] == "console-operator" and entry["source"] == "lab.results.v1"
    replayed = await record_at(infra.bootstrap, "lab.results.v1", entry["replayed_to_partition"],
                               entry["replayed_to_offset"])
    assert dict(replayed.headers)["dsp-replayed-from"].decode() == (
        f"lab.results.v1.dlq/{entry['partition']}/{entry['offset']}")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = Path(ARTIFACTS / "console.png")
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000  # noqa: ASYNC240 - one local file, after the test


async def record_at(bootstrap: str, topic: str, partition: int, offset: int) -> Any:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        return (await consumer.getone(tp))
    finally:
        await consumer.stop()
