"""The gateway's side of Kafka: send a command, wait for its outcome (matched by command id) with a timeout.

Outcome topics are read without a consumer group, every partition assigned and positioned at the end before
the gateway takes requests, so no outcome of a command sent afterwards can be missed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.topics import FILE_MESSAGE_BYTES

log = structlog.get_logger("dsp.gateway.bus")


class Unavailable(RuntimeError):
    """Kafka or the service behind it did not answer in time: a 503 for the caller."""


class Bus:
    def __init__(self, bootstrap: str, outcome_topics: tuple[str, ...], timeout_s: float,
                 kafka: dict[str, Any] | None = None) -> None:
        self.bootstrap, self.topics, self.timeout_s = bootstrap, outcome_topics, timeout_s
        self.kafka = {**(kafka or {}), "bootstrap_servers": bootstrap}  # the gateway's principal (kit.kafka_auth)
        self.waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.producer = AIOKafkaProducer(**self.kafka, acks="all", enable_idempotence=True,
                                         client_id="dsp-gateway", request_timeout_ms=10_000,
                                         max_request_size=FILE_MESSAGE_BYTES)  # an upload (5 MiB file) in one record
        self.consumer = AIOKafkaConsumer(**self.kafka, group_id=None, enable_auto_commit=False,
                                         client_id="dsp-gateway-replies")
        await self.producer.start()
        await self.consumer.start()
        partitions = [TopicPartition(t, p) for t in self.topics for p in sorted(await self.producer.partitions_for(t))]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_end(*partitions)
        for tp in partitions:
            await self.consumer.position(tp)  # resolve "end" now, before any command is sent
        self._task = asyncio.create_task(self._read())

    def ready(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.consumer.stop()
        await self.producer.stop()

    async def _read(self) -> None:
        while True:
            try:
                batches = await self.consumer.getmany(timeout_ms=500)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep reading; callers time out meanwhile
                log.warning("reading outcomes failed; retrying", error=type(exc).__name__)
                await asyncio.sleep(1)
                continue
            for records in batches.values():
                for record in records:
                    try:
                        outcome = json.loads(record.value)
                    except ValueError:
                        continue
                    future = self.waiting.get(str(outcome.get("command_id")))
                    if future is not None and not future.done():
                        future.set_result(outcome)

    async def send(self, topic: str, key: str, body: dict[str, Any]) -> None:
        """Publish a command whose service answers with events, not an outcome (records)."""
        try:
            await asyncio.wait_for(self.producer.send_and_wait(topic, json.dumps(body).encode(), key=key.encode()),
                                   self.timeout_s)
        except TimeoutError:
            raise Unavailable("Kafka did not take the command in time; try again") from None

    async def command(self, topic: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
        """Publish a command and wait for its outcome."""
        command_id = body["command_id"]
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[command_id] = future
        try:
            await asyncio.wait_for(self.producer.send_and_wait(topic, json.dumps(body).encode(), key=key.encode()),
                                   self.timeout_s)
            return await asyncio.wait_for(future, self.timeout_s)
        except TimeoutError:
            raise Unavailable("no answer in time; try again") from None
        finally:
            self.waiting.pop(command_id, None)

    @asynccontextmanager
    async def expecting(self, command_id: str) -> AsyncIterator[asyncio.Future[dict[str, Any]]]:
        """Wait for the outcome of a command another service publishes (register first, then ask it)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[command_id] = future
        try:
            yield future
        finally:
            self.waiting.pop(command_id, None)

    async def outcome(self, future: asyncio.Future[dict[str, Any]]) -> dict[str, Any]:
        try:
            return await asyncio.wait_for(future, self.timeout_s)
        except TimeoutError:
            raise Unavailable("no answer in time; try again") from None
