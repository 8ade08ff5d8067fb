"""What the operations console reads: worker health and Prometheus metrics, consumer lag and dead-letter depth
from Kafka's admin API, and the business counters from each service's own `/v1/stats` (called with the console's
service token; the console opens no service's database) — access's include the professionals who break the glass
unusually often (ids and counts, never a patient). A service that does not answer shows no counters (null),
never stale ones. Read-only."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from schemas.topics import TOPICS
from services.kit.servicetokens import Signer

UNKNOWN_GRANTS = {"active": None, "expiring_24h": None, "expired": None}
UNKNOWN_GLASS = {"window_hours": None, "threshold": None, "professionals": None}  # access did not answer


def _metrics(text: str) -> dict[str, float]:
    """Messages processed and their total processing time, summed over the worker's handlers."""
    out = {"processed": 0.0, "seconds": 0.0, "dead_letters": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "dsp_received_processed_messages_duration_seconds_count":
                out["processed"] += sample.value
            elif sample.name == "dsp_received_processed_messages_duration_seconds_sum":
                out["seconds"] += sample.value
            elif sample.name == "dsp_dead_letters_total":
                out["dead_letters"] += sample.value
    return out


class Probes:
    def __init__(self, bootstrap: str, signer: Signer | None, workers: dict[str, str], group_prefix: str,
                 kafka: dict[str, Any] | None = None) -> None:
        self.bootstrap, self.signer, self.workers = bootstrap, signer, workers
        self.kafka_options = {**(kafka or {}), "bootstrap_servers": bootstrap}  # the console's principal
        self.groups = [f"{group_prefix}{name}" for name in ("records", "activation", "access", "notify")]
        self.http = httpx.AsyncClient(timeout=2)
        self.consumer: AIOKafkaConsumer | None = None
        self.admin: AIOKafkaAdminClient | None = None

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(**self.kafka_options, group_id=None)
        self.admin = AIOKafkaAdminClient(**self.kafka_options)
        await self.consumer.start()
        await self.admin.start()

    async def stop(self) -> None:
        await self.http.aclose()
        if self.consumer:
            await self.consumer.stop()
        if self.admin:
            await self.admin.close()

    async def worker(self, name: str, url: str) -> dict[str, Any]:
        try:
            ready = (await self.http.get(f"{url}/health/ready")).status_code == 200
            metrics = _metrics((await self.http.get(f"{url}/metrics")).text)
        except httpx.HTTPError:
            return {"name": name, "ready": False, "processed": 0, "seconds": 0, "dead_letters": 0}
        return {"name": name, "ready": ready, **metrics}

    async def _partitions(self, admin: AIOKafkaAdminClient, topics: list[str]) -> list[TopicPartition]:
        described = await admin.describe_topics(topics)
        return [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]

    async def kafka(self) -> dict[str, Any]:
        if self.consumer is None or self.admin is None:
            raise RuntimeError("Probes.start() was not awaited")
        names = [t.name for t in TOPICS]
        dlq = await self._partitions(self.admin, [f"{n}.dlq" for n in names])
        ends = await self.consumer.end_offsets(dlq)
        starts = await self.consumer.beginning_offsets(dlq)
        depth: dict[str, int] = {}
        for tp in dlq:
            depth[tp.topic] = depth.get(tp.topic, 0) + ends[tp] - starts[tp]
        lag: list[dict[str, Any]] = []
        for group in self.groups:
            offsets = await self.admin.list_consumer_group_offsets(group)
            if not offsets:
                continue
            latest = await self.consumer.end_offsets(list(offsets))
            for tp, meta in sorted(offsets.items()):
                lag.append({"group": group, "topic": tp.topic, "partition": tp.partition,
                            "lag": max(0, latest[tp] - meta.offset)})
        return {"dlq_depth": depth, "lag": lag}

    async def stats(self, name: str) -> dict[str, Any]:
        """`name`'s own counters (`POST /v1/stats`, the console's token for audience `name`); {} if it cannot say."""
        url = self.workers.get(name)
        if url is None or self.signer is None:
            return {}
        try:
            reply = await self.http.post(f"{url}/v1/stats", json={},
                                         headers={"Authorization": f"Bearer {self.signer.token(name)}"})
        except httpx.HTTPError:
            return {}
        found = reply.json() if reply.status_code == 200 else {}
        return found if isinstance(found, dict) else {}

    async def business(self, now: datetime) -> dict[str, Any]:
        records, activation, access, notify = await asyncio.gather(
            *(self.stats(name) for name in ("records", "activation", "access", "notify")))
        funnel = {"letters_sent": notify.get("letters_sent"), "activated": activation.get("activated"),
                  "logged_in": activation.get("logged_in")}
        return {"funnel": funnel, "channels": notify.get("channels", {}),
                "grants": access.get("grants", UNKNOWN_GRANTS), "lab_results_stored": records.get("lab_results_stored"),
                "break_the_glass": access.get("break_the_glass", UNKNOWN_GLASS)}

    async def snapshot(self, now: datetime) -> dict[str, Any]:
        workers = await asyncio.gather(*(self.worker(n, u) for n, u in self.workers.items()))
        return {"at": now.isoformat(), "workers": list(workers), **await self.kafka(), **await self.business(now)}
