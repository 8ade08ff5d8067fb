"""The local mesh infrastructure: Kafka + FerretDB in one state folder, topics created, ready in seconds."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .ferretdb import FerretNode
from .kafka import KafkaNode
from .procs import InfraError


def cache_dir() -> Path:
    return Path(os.environ.get("DSP_CACHE_DIR", Path.home() / ".cache" / "dsp-mesh"))


def default_state_dir() -> Path:
    return Path(os.environ.get("DSP_STATE_DIR", Path.home() / ".local" / "state" / "dsp-mesh"))


@dataclass
class LocalInfra:
    state_dir: Path = field(default_factory=default_state_dir)
    kafka_port: int = int(os.environ.get("DSP_KAFKA_PORT", "19092"))
    controller_port: int = int(os.environ.get("DSP_KAFKA_CONTROLLER_PORT", "19093"))
    mongo_port: int = int(os.environ.get("DSP_MONGO_PORT", "27027"))
    tied: bool = False  # the servers end with the process that started them (tests, benches), not `make run`'s

    def __post_init__(self) -> None:
        cache = cache_dir()
        cache.mkdir(parents=True, exist_ok=True)
        self.kafka = KafkaNode(cache, self.state_dir, self.kafka_port, self.controller_port, self.tied)
        self.ferret = FerretNode(cache, self.state_dir, self.mongo_port, self.tied)

    @property
    def env(self) -> dict[str, str]:
        return {"DSP_KAFKA_BOOTSTRAP": self.kafka.bootstrap, "DSP_MONGO_URI": self.ferret.uri}

    def up(self) -> dict[str, float]:
        """Idempotent: start what is not running, create missing topics. Returns seconds per step."""
        timings: dict[str, float] = {}
        t0 = time.monotonic()
        self.ferret.start()
        timings["ferretdb"] = time.monotonic() - t0
        t1 = time.monotonic()
        self.kafka.start()
        asyncio.run(create_topics(self.kafka.bootstrap, options=self.kafka.client_options()))
        timings["kafka"] = time.monotonic() - t1
        t2 = time.monotonic()
        self.kafka.apply_access(os.environ.get("DSP_KAFKA_GROUP_PREFIX", ""))
        timings["kafka-acls"] = time.monotonic() - t2
        timings["total"] = time.monotonic() - t0
        return timings

    def down(self) -> list[str]:
        return [name for name, node in (("kafka", self.kafka), ("ferretdb", self.ferret)) if node.stop()]

    def status(self) -> dict[str, str]:
        return {
            "kafka": f"running on {self.kafka.bootstrap}" if self.kafka.running() else "stopped",
            "ferretdb": f"running on {self.ferret.uri}" if self.ferret.running() else "stopped",
        }


async def create_topics(bootstrap: str, within_s: float = 60.0, options: dict[str, Any] | None = None) -> list[str]:
    """Create every project topic that is missing (the broker does not auto-create), with its configuration
    (`schemas.topics.topic_configs`: the file topics' `max.message.bytes`), and bring that configuration to the
    topics that already exist (created before it, e.g. by an older `make run`). Returns the topics created.
    `options`: the admin's aiokafka connection arguments (security), when the broker asks for them."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import KafkaError

    from schemas.topics import all_topics, topic_configs

    deadline = time.monotonic() + within_s
    configs = topic_configs()
    while True:
        admin = AIOKafkaAdminClient(**{"bootstrap_servers": bootstrap, **(options or {})}, request_timeout_ms=10_000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            wanted = all_topics()
            missing = [NewTopic(name, n, 1, topic_configs=configs.get(name, {})) for name, n in wanted.items()
                       if name not in existing]
            if missing:
                await admin.create_topics(missing)
            await _configure(admin, {name: c for name, c in configs.items() if name in existing})
            return [t.name for t in missing]
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise InfraError(f"Kafka at {bootstrap} did not accept topic creation: {exc!r}") from exc
            await asyncio.sleep(0.5)
        finally:
            await admin.close()


async def _configure(admin: Any, wanted: dict[str, dict[str, str]]) -> list[str]:
    """Set `wanted` (topic -> settings) where a topic's value differs; the topics altered. An alteration replaces the
    topic's own settings (the project sets no other)."""
    if not wanted:
        return []
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    found: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name, dict(settings)) for name, settings in wanted.items()]):
        for _error, _message, _kind, name, entries in response.resources:
            found[name] = {entry[0]: entry[1] for entry in entries}
    stale = [name for name, settings in wanted.items() if any(found.get(name, {}).get(k) != v
                                                              for k, v in settings.items())]
    if stale:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, n, wanted[n]) for n in stale])
    return stale
