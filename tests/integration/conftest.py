"""Real infrastructure for the integration tests, chosen in this order:

1. DSP_KAFKA_BOOTSTRAP + DSP_MONGO_URI set: use that existing infrastructure;
2. a Docker engine answers: testcontainers (Kafka in KRaft mode, MongoDB);
3. otherwise: the project's own local Kafka + FerretDB (`infra`), in a temporary folder on free ports.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from infra.ferretdb import MONGO_SERVICES
from infra.local import LocalInfra, create_topics
from infra.procs import free_port
from schemas.topics import FILE_MESSAGE_BYTES
from tests.support import (
    KAFKA,
    MONGO_ADMIN_URIS,
    MONGO_USERS,
    SigningProducer,
    Worker,
    encode,
    eventually,
    kafka_options,
    person,
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Everything under tests/integration is marked, so `pytest -m "not integration"` is a quick run. Tests that
    need a Docker engine (`docker_host`: `docker compose up` and a smoke walk) run where one answers; elsewhere they
    are deselected, and the run says so in one line."""
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.integration)
    needs_engine = [item for item in items if item.get_closest_marker("docker_host")]
    if needs_engine and not _docker_answers():
        config.hook.pytest_deselected(items=needs_engine)
        items[:] = [item for item in items if item not in needs_engine]
        print(f"\n{len(needs_engine)} test(s) need a Docker engine and none answers here: deselected "
              "(they run on a Docker host: see the README)")


@dataclass
class Infra:
    bootstrap: str
    mongo_uri: str  # with the admin user's credentials, if the server asks for them
    mode: str
    local: LocalInfra | None = None

    @property
    def kafka(self) -> dict[str, Any]:
        """aiokafka arguments for a test's own client: as the super user `admin` on the secured local broker."""
        return kafka_options(self.bootstrap)


@pytest.fixture(scope="package", autouse=True)
def worker_logs_to_one_stream() -> Iterator[None]:
    """Workers run in this process (`tests.inprocess`) log from their own threads. structlog's default logger prints
    to whatever `sys.stdout` is at that moment — a capture object pytest swaps and closes around a test using
    `capfd` — and one such print, racing that close, crashed the interpreter (a segmentation fault in a fresh-clone
    run). Here their lines go to the process's own stdout object, never closed: still file descriptor 1, which
    pytest (and `capfd`) capture at the descriptor level. The unit tests after this package get the default back."""
    before = structlog.get_config()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.__stdout__))
    yield
    structlog.configure(**before)


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:  # noqa: BLE001 - any failure means: no usable engine
        return False
    return True


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    if os.environ.get("DSP_KAFKA_BOOTSTRAP") and os.environ.get("DSP_MONGO_URI"):
        found = Infra(os.environ["DSP_KAFKA_BOOTSTRAP"], os.environ["DSP_MONGO_URI"], "external")
        asyncio.run(create_topics(found.bootstrap, options=found.kafka))
        yield found
    elif _docker_answers():
        from testcontainers.community.kafka import KafkaContainer
        from testcontainers.community.mongodb import MongoDbContainer

        with KafkaContainer().with_kraft() as kafka, MongoDbContainer("mongo:7") as mongo:
            found = Infra(kafka.get_bootstrap_server(), mongo.get_connection_url(), "testcontainers")
            asyncio.run(create_topics(found.bootstrap))
            yield found
    else:
        local = LocalInfra(state_dir=tmp_path_factory.mktemp("infra"), kafka_port=free_port(),
                           controller_port=free_port(), mongo_port=free_port(), tied=True)
        try:
            local.up()
            KAFKA["node"] = local.kafka  # SASL/SCRAM + ACLs: the tests' clients as admin, workers as their service
            # the tests' own clients connect as FerretDB's admin; each worker they start as its service's user
            MONGO_ADMIN_URIS[local.ferret.admin_uri] = local.ferret.uri
            MONGO_USERS.update({name: (name, local.ferret.password(name)) for name in MONGO_SERVICES})
            yield Infra(local.kafka.bootstrap, local.ferret.admin_uri, "local", local)
        finally:
            KAFKA.clear()
            local.down()


@pytest.fixture(scope="session")
def run_id() -> str:
    return "t" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def worker_env(infra: Infra, run_id: str) -> dict[str, str]:
    return {
        "DSP_KAFKA_BOOTSTRAP": infra.bootstrap,
        "DSP_MONGO_URI": infra.mongo_uri,
        "DSP_MONGO_DB_PREFIX": run_id,
        "DSP_KAFKA_GROUP_PREFIX": f"{run_id}-",
        "DSP_LOG_PSEUDONYM_KEY": secrets.token_hex(24),
        "DSP_ACTIVATION_CODE_KEY": secrets.token_hex(24),
        "DSP_LOG_JSON": "true",
        "DSP_RETRY_BACKOFF_MAX_S": "2",
    }


@pytest.fixture(scope="session")
def spawn_worker(worker_env: dict[str, str],
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []
    logs = tmp_path_factory.mktemp("worker-logs")

    def spawn(service: str, **env: str) -> Worker:
        name = f"{service}-{len(started)}"
        worker = Worker(service, {**worker_env, f"DSP_{service.upper()}_HTTP_PORT": str(free_port()), **env},
                        Path(logs) / f"{name}.log")
        started.append(worker)
        return worker.start()

    yield spawn
    for worker in started:
        worker.stop()


PATIENT = "1893120105732"


@pytest.fixture(scope="session")
def records(spawn_worker: Callable[..., Worker], infra: Infra, run_id: str) -> Worker:
    """One records worker for the session (tests that kill a worker start their own); the registry has
    announced the usual test patient, so results for it are stored rather than parked."""
    worker = spawn_worker("records")

    async def register() -> None:
        prod = AIOKafkaProducer(**infra.kafka, acks="all")
        await prod.start()
        await prod.send_and_wait("registry.persons.v1", encode(person(PATIENT)), key=PATIENT.encode())
        await prod.stop()
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_uri)
        await eventually(lambda: client[f"{run_id}_records"]["persons"].find_one({"_id": PATIENT}))
        await client.close()

    asyncio.run(register())
    return worker


@pytest.fixture
async def producer(infra: Infra) -> AsyncIterator[AIOKafkaProducer]:
    """The tests' producer (as admin): a lab result sent without a signature is signed as its laboratory, whose key
    is announced the first time (`tests.support.SigningProducer`); up to the file topics' record size."""
    prod = AIOKafkaProducer(**infra.kafka, acks="all", enable_idempotence=True, max_request_size=FILE_MESSAGE_BYTES)
    await prod.start()
    yield SigningProducer(prod, infra.bootstrap)  # type: ignore[misc]
    await prod.stop()


@pytest.fixture
async def mongo(infra: Infra) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_uri, tz_aware=True)
    yield client
    await client.close()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]
