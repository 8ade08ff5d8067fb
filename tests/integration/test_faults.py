"""Faults on the real stack: database down, broker restart, Kafka absent at start-up, SIGKILL mid-stream."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from infra.procs import free_port
from tests.support import SigningProducer, Worker, encode, eventually, header, lab_result, read_topic


@pytest.fixture
def local(infra: Any) -> Any:
    if infra.local is None:
        pytest.skip("needs the project's local infrastructure to stop and start servers")
    return infra.local


def results(mongo: AsyncMongoClient[dict[str, Any]], run_id: str) -> Any:
    return mongo[f"{run_id}_records"]["documents"]


async def test_database_down_for_10_s_the_worker_waits_and_loses_nothing(
        local: Any, records: Worker, producer: AIOKafkaProducer, mongo: AsyncMongoClient[dict[str, Any]],
        run_id: str, unique: str) -> None:
    lab = f"LAB-{unique}"
    logged_before = len(records.logs())  # the worker serves the whole session: this outage's lines only
    local.ferret.stop()
    down_since = time.monotonic()
    try:
        await producer.send_and_wait("lab.results.v1", encode(lab_result(lab, message_id="during-outage")),
                                     key=f"{lab}:R1".encode())
        await eventually(lambda: asyncio.sleep(0, "dependency unreachable; message kept" in records.logs()))
        for i in range(20):  # more results arrive while the database is down
            await producer.send_and_wait("lab.results.v1", encode(lab_result(lab, report=f"D{i}", message_id=f"d{i}")),
                                         key=f"{lab}:D{i}".encode())
        await asyncio.sleep(max(0.0, 10 - (time.monotonic() - down_since)))  # the outage lasts 10 s
        assert records.proc is not None and records.proc.poll() is None
    finally:
        local.ferret.start()

    async def all_stored() -> bool:
        return await results(mongo, run_id).count_documents({"laboratory_id": lab}) == 21

    await eventually(all_stored, within_s=60)
    stored = await results(mongo, run_id).find_one({"laboratory_id": lab, "report_id": "R1"})
    assert stored is not None and [v["message_id"] for v in stored["versions"]] == ["during-outage"]
    assert "dependency back, message processed" in records.logs()
    waits = [json.loads(line) for line in records.logs()[logged_before:].splitlines()
             if "dependency unreachable; message kept" in line]
    per_topic = Counter(line.get("topic") for line in waits)  # each subscriber that needed the database waits
    assert waits and max(per_topic.values()) <= 2, per_topic  # one line (two across a minute), not a flood


async def test_broker_restart_consumer_and_dead_letter_producer_recover(
        local: Any, records: Worker, mongo: AsyncMongoClient[dict[str, Any]], run_id: str, unique: str,
        infra: Any) -> None:
    local.kafka.stop()
    local.kafka.start()
    lab = f"LAB-{unique}"
    producer = SigningProducer(AIOKafkaProducer(**infra.kafka, acks="all", enable_idempotence=True), infra.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait("lab.results.v1", encode(lab_result(lab, message_id="after-restart")),
                                     key=f"{lab}:R1".encode())
        await producer.send_and_wait("lab.results.v1", b"{}", key=f"{lab}:BAD".encode())
    finally:
        await producer.stop()
    assert await eventually(lambda: results(mongo, run_id).find_one({"laboratory_id": lab}), within_s=90)
    dead = await read_topic(infra.bootstrap, "lab.results.v1.dlq", f"{lab}:BAD".encode(), count=1, within_s=60)
    assert "message_id: Field required" in header(dead[0], "dlq-reason")


def test_kafka_absent_at_start_up_the_worker_waits_and_says_so(spawn_worker: Callable[..., Worker],
                                                               worker_env: dict[str, str], tmp_path: Any) -> None:
    env = {**worker_env, "DSP_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}", "DSP_NOTIFY_HTTP_PORT": str(free_port())}
    worker = Worker("notify", env, Path(tmp_path) / "notify.log").launch()
    try:
        deadline = time.monotonic() + 30
        while "dependency unreachable at start-up" not in worker.logs() and time.monotonic() < deadline:
            time.sleep(0.2)
        logs = worker.logs()
        assert '"dependency": "kafka"' in logs and "retrying with backoff" in logs
        assert worker.proc is not None and worker.proc.poll() is None  # waiting, not crash-looping
        assert logs.count("dependency unreachable at start-up") == 1
        assert '"logger": "aiokafka"' not in logs  # one clear line, not a client library's retry noise
    finally:
        started = time.monotonic()
        worker.stop()
    assert time.monotonic() - started < 10, "SIGTERM during the start-up wait must stop the worker promptly"


async def test_sigkill_mid_stream_every_result_stored_exactly_once(
        spawn_worker: Callable[..., Worker], producer: AIOKafkaProducer, mongo: AsyncMongoClient[dict[str, Any]],
        unique: str, records: Worker) -> None:
    prefix = f"k{unique}"
    worker = spawn_worker("records", DSP_MONGO_DB_PREFIX=prefix, DSP_KAFKA_GROUP_PREFIX=f"{prefix}-")
    lab, total = f"LAB-{unique}", 2000  # several batches of 500: the kill lands mid-stream
    collection = mongo[f"{prefix}_records"]["documents"]
    sends = [producer.send("lab.results.v1", encode(lab_result(
        lab, report=f"R{i % 17}", message_id=f"m-{i}", reported_at=f"2026-11-20T14:{i % 60:02d}:{i // 60:02d}+01:00")),
        key=f"{lab}:R{i % 17}".encode()) for i in range(total)]
    await asyncio.gather(*[await s for s in sends])
    async def stored() -> list[str]:
        return [v["message_id"] async for doc in collection.find({"laboratory_id": lab}) for v in doc["versions"]]

    await eventually(stored, every_s=0.05)
    worker.kill()  # SIGKILL: no graceful shutdown, offsets of in-flight work not committed
    stored_at_kill = len(await stored())
    worker.start()

    async def all_stored() -> bool:
        return len(await stored()) >= total

    try:
        await eventually(all_stored, within_s=120)
    finally:
        worker.stop()
    assert sorted(await stored()) == sorted(f"m-{i}" for i in range(total))  # every one, none twice
    assert stored_at_kill < total, "the kill landed after the stream; the test proved nothing"
