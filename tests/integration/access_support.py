"""Driving the access worker as the gateway would: commands on Kafka, outcomes read back, HTTP decisions."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import date
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo.asynchronous.database import AsyncDatabase

from infra.procs import free_port
from services.access.app import AccessSettings, create_app
from tests.inprocess import FakeClock, InProcessWorker, settings_from
from tests.support import encode, eventually, kafka_options, make_matricule, person


def access_worker(infra: Any, prefix: str, clock: FakeClock, pseudonym_key: str) -> InProcessWorker:
    """An access worker in this process (the test owns its clock), with its own database and consumer group."""
    port = free_port()
    env = {"DSP_KAFKA_BOOTSTRAP": infra.bootstrap, "DSP_MONGO_URI": infra.mongo_uri, "DSP_MONGO_DB_PREFIX": prefix,
           "DSP_KAFKA_GROUP_PREFIX": f"{prefix}-", "DSP_LOG_PSEUDONYM_KEY": pseudonym_key,
           "DSP_ACCESS_HTTP_PORT": str(port), "DSP_ACCESS_SWEEP_INTERVAL_S": "0.3", "DSP_RETRY_BACKOFF_MAX_S": "2"}
    return InProcessWorker(create_app(settings_from(AccessSettings, env), clock), port, audience="access")


class TopicReader:
    """Every record of a topic since the test began, kept open and polled as needed."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(topic, **kafka_options(bootstrap), auto_offset_reset="earliest",
                                         enable_auto_commit=False, group_id=None)
        self.values: list[dict[str, Any]] = []
        self.headers: list[dict[str, bytes]] = []

    async def start(self) -> TopicReader:
        await self.consumer.start()
        return self

    async def stop(self) -> None:
        await self.consumer.stop()

    async def poll(self) -> None:
        for records in (await self.consumer.getmany(timeout_ms=200)).values():
            for r in records:
                self.values.append(json.loads(r.value))
                self.headers.append(dict(r.headers))

    async def wait(self, within_s: float = 30.0, **match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + within_s
        while True:
            found = self.matching(**match)
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no record matching {match} within {within_s}s")
            await self.poll()

    def matching(self, **match: Any) -> list[dict[str, Any]]:
        return [v for v in self.values if all(v.get(k) == want for k, want in match.items())]


class Gateway:
    """What the gateway does with access: send a command and wait for its outcome; ask for decisions."""

    def __init__(self, producer: AIOKafkaProducer, outcomes: TopicReader, worker: InProcessWorker) -> None:
        self.producer, self.outcomes, self.worker = producer, outcomes, worker

    async def send(self, patient: str, command: str, actor: tuple[str, str], **fields: Any) -> str:
        command_id = fields.pop("command_id", None) or f"cmd-{uuid.uuid4().hex}"
        body = {"command": command, "command_id": command_id, "patient": patient,
                "actor": {"kind": actor[0], "id": actor[1]}, **fields}
        await self.producer.send_and_wait("access.commands.v1", encode(body), key=patient.encode())
        return command_id

    async def run(self, patient: str, command: str, actor: tuple[str, str], **fields: Any) -> dict[str, Any]:
        command_id = await self.send(patient, command, actor, **fields)
        return await self.outcomes.wait(command_id=command_id)

    async def decide(self, actor: tuple[str, str], patient: str, action: str = "read",
                     document: str | None = None) -> dict[str, Any]:
        body = {"actor": {"kind": actor[0], "id": actor[1]}, "action": action, "patient": patient}
        if document:
            body["document"] = document
        status, text = await asyncio.to_thread(self.worker.http, "POST", "/v1/decisions", encode(body))
        assert status == 200, (status, text)
        result: dict[str, Any] = json.loads(text)
        return result

    async def presence(self, path: str, patient: str, body: dict[str, Any]) -> dict[str, Any]:
        """A presence-password call over access's HTTP API as the gateway makes it: the HTTP answer, and for a
        202 the outcome of the internal command it sent (`reason`, `accepted`, and the password if generated)."""
        command_id = f"http-{uuid.uuid4().hex}"
        status, answer = await self.post(path, {"command_id": command_id, "patient": patient, **body})
        if status != 202:
            return {"accepted": False, "reason": answer["detail"], "status": status}
        outcome = await self.outcomes.wait(command_id=command_id)
        return {**outcome, "status": status, "presence_password": answer.get("presence_password")}

    async def generate(self, patient: str, delivery: str = "letter") -> dict[str, Any]:
        return await self.presence("/v1/presence/generate", patient, {"actor": {"kind": "patient", "id": patient},
                                                                       "delivery": delivery})

    async def redeem(self, patient: str, professional: str, password: str) -> dict[str, Any]:
        return await self.presence("/v1/presence/redeem", patient, {"professional_id": professional,
                                                                     "password": password})

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        status, text = await asyncio.to_thread(self.worker.http, "POST", path, encode(body))
        return status, json.loads(text) if text.startswith(("{", "[")) else text


_GIVEN: set[str] = set()  # matricules already given out in this test session


def fresh_matricule(born: date, seed: int) -> str:
    """A matricule born on `born` that no earlier test of this session got: the serial has only 1,000 values, so
    two tests' random seeds meet now and then (seen: one test's audit trail held another's entries)."""
    for step in range(1000):
        matricule = make_matricule(born, (seed + step) % 1000)
        if matricule not in _GIVEN:
            _GIVEN.add(matricule)
            return matricule
    raise RuntimeError(f"every serial of {born} is taken in this session")


async def register_people(producer: AIOKafkaProducer, unique: str, *births: date) -> list[str]:
    """Registry persons with fresh matricules (one per birth date), published as the registry would."""
    people = [fresh_matricule(born, int(unique[:4], 16) + i * 7) for i, born in enumerate(births)]
    for m in people:
        await producer.send_and_wait("registry.persons.v1", encode(person(m, f"reg-{unique}-{m}")), key=m.encode())
    return people


async def list_professionals(producer: AIOKafkaProducer, *ids: str, practice: str = "CAB-1") -> None:
    for pro in ids:
        body = {"message_id": f"dir-{pro}", "professional_id": pro, "given_name": "Paul", "family_name": "Hoffmann",
                "profession": "Médecin", "specialty": "Médecine générale", "practice_id": practice}
        await producer.send_and_wait("directory.professionals.v1", encode(body), key=pro.encode())


async def guardian_of(gw: Gateway, db: AsyncDatabase[dict[str, Any]], unique: str, child: str, *parents: str) -> None:
    """The registry records `parents` as the minor `child`'s legal representatives (only they may become her DSP
    assistant), once access's database has it."""
    await gw.producer.send_and_wait("registry.persons.v1", encode(person(child, f"reg-{unique}-{child}-guardians",
                                                                         guardians=list(parents))), key=child.encode())

    async def known() -> bool:
        found = await db["persons"].find_one({"_id": child})
        return bool(found) and found.get("guardians") == list(parents)

    await eventually(known)


async def people(gw: Gateway, db: AsyncDatabase[dict[str, Any]], unique: str, *births: date,
                 pros: tuple[str, ...] = ()) -> list[str]:
    """Registered persons and listed professionals, once access's database has them."""
    found = await register_people(gw.producer, unique, *births)
    await list_professionals(gw.producer, *pros)
    for m in found:
        await eventually(lambda m=m: db["persons"].find_one({"_id": m}))  # type: ignore[misc]
    for p in pros:
        await eventually(lambda p=p: db["professionals"].find_one({"_id": p}))  # type: ignore[misc]
    return found
