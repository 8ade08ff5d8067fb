"""Kafka asks who is knocking (SASL/SCRAM) and lets each principal do only what `infra.kafka_acls` allows, on the
real local broker: a stranger with a valid login but no ACL, a laboratory, the gateway, an anonymous client.
That every service principal can do what its worker needs is proven by the rest of the suite, which runs the
workers as their own principals (tests.support.with_test_kafka_credentials)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from infra.kafka import KafkaNode
from infra.kafka_acls import rights

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def node(infra: Any) -> KafkaNode:
    if infra.local is None:
        pytest.skip("ACLs are set up by the project's local broker (external/testcontainers Kafka: PLAINTEXT)")
    return infra.local.kafka


@pytest.fixture(scope="module")
def stranger(node: KafkaNode) -> str:
    """A principal that can log in but has no ACL at all."""
    name = f"stranger-{secrets.token_hex(3)}"
    node.apply([], users=(name,))
    return name


@pytest.fixture
async def as_principal(node: KafkaNode) -> AsyncIterator[Any]:
    started: list[Any] = []

    async def producer(principal: str) -> AIOKafkaProducer:
        prod = AIOKafkaProducer(**node.client_options(principal), acks="all", request_timeout_ms=10_000)
        await prod.start()
        started.append(prod)
        return prod

    yield producer
    for prod in started:
        await prod.stop()


async def _read(node: KafkaNode, principal: str, topic: str, group: str | None = None) -> None:
    """Read `topic` as `principal`, which the broker refuses: TopicAuthorizationFailed for the topic's metadata
    (Read implies Describe, so no Describe is no Read), and a fetch from the beginning of a topic that holds a
    record gets nothing; with a `group`, joining it is refused (GroupAuthorizationFailed)."""
    admin = AIOKafkaProducer(**node.client_options(), acks="all")
    await admin.start()
    try:
        await admin.send_and_wait(topic, b"{}", key=b"acl-probe", partition=0)  # something to read
        consumer = AIOKafkaConsumer(**node.client_options(principal), group_id=group, enable_auto_commit=False,
                                    auto_offset_reset="earliest", request_timeout_ms=10_000)
        if group is not None:
            consumer.subscribe([topic])
            try:
                await consumer.start()  # joins the group: refused
            finally:
                await consumer.stop()
            return
        await consumer.start()
        try:
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            consumer.seek(tp, 0)
            got = await consumer.getmany(timeout_ms=3000)
            assert not any(got.values()), f"{principal} read {topic}"
        finally:
            await consumer.stop()
        prober = AIOKafkaProducer(**node.client_options(principal), request_timeout_ms=5000)
        await prober.start()
        try:
            await prober.partitions_for(topic)  # raises TopicAuthorizationFailedError
        finally:
            await prober.stop()
    finally:
        await admin.stop()


@pytest.mark.parametrize("topic", ["activation.commands.v1", "activation.events.v1", "activation.accounts.v1",
                                   "access.commands.v1", "access.events.v1", "access.changes.v1",
                                   "access.grant-expired.v1"])
async def test_a_principal_without_acl_reads_no_activation_or_access_topic(node: KafkaNode, stranger: str,
                                                                          topic: str) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await _read(node, stranger, topic)


@pytest.mark.parametrize("topic", ["access.commands.v1", "activation.commands.v1", "lab.results.v1"])
async def test_a_principal_without_acl_publishes_nothing(as_principal: Any, stranger: str, topic: str) -> None:
    prod = await as_principal(stranger)
    with pytest.raises(TopicAuthorizationFailedError):
        await prod.send_and_wait(topic, b"{}", key=b"forged")


async def test_a_laboratory_publishes_results_only(node: KafkaNode, as_principal: Any) -> None:
    lab = await as_principal("laboratory")
    await lab.send_and_wait("lab.results.v1", b"{}", key=b"LAB-ACL:R1")  # goes to the records worker's DLQ, if any
    await lab.send_and_wait("lab.results.fhir.v1", b"{}", key=b"LAB-ACL:R1")
    for forged in ("access.commands.v1", "activation.commands.v1", "registry.persons.v1", "records.commands.v1"):
        with pytest.raises(TopicAuthorizationFailedError):
            await lab.send_and_wait(forged, b"{}", key=b"forged")
    with pytest.raises(TopicAuthorizationFailedError):  # nor read what laboratories (others too) sent
        await _read(node, "laboratory", "lab.results.v1")


async def test_only_the_helpdesk_console_commands_activation(as_principal: Any) -> None:
    for principal in ("gateway", "access", "records", "notify", "registry"):
        prod = await as_principal(principal)
        with pytest.raises(TopicAuthorizationFailedError):
            await prod.send_and_wait("activation.commands.v1", b"{}", key=b"forged")
    console = await as_principal("console")
    assert "activation.commands.v1" in rights()["console"]["write"]
    assert [p for p, r in rights().items() if "activation.commands.v1" in r["write"]] == ["console"]
    assert console is not None  # allowed to (not exercised here: the activation worker would act on it)


async def test_the_gateway_publishes_its_commands_and_nothing_else(as_principal: Any) -> None:
    gateway = await as_principal("gateway")
    for forged in ("access.events.v1", "access.changes.v1", "registry.persons.v1", "lab.results.v1"):
        with pytest.raises(TopicAuthorizationFailedError):
            await gateway.send_and_wait(forged, b"{}", key=b"forged")


async def test_a_service_joins_only_its_own_consumer_group(node: KafkaNode) -> None:
    from tests.support import with_test_kafka_credentials

    prefix = f"acl{secrets.token_hex(3)}-"
    with_test_kafka_credentials("records", {"DSP_KAFKA_GROUP_PREFIX": prefix})  # grants this prefix's groups
    with pytest.raises(GroupAuthorizationFailedError):  # records reads registry.persons.v1, but as activation's group
        await _read(node, "records", "registry.persons.v1", group=f"{prefix}activation")


async def test_anonymous_and_wrong_password_are_refused(node: KafkaNode) -> None:
    anonymous = AIOKafkaProducer(bootstrap_servers=node.bootstrap, request_timeout_ms=5000)  # PLAINTEXT, no login
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(anonymous.start(), 30)
    await anonymous.stop()
    wrong = AIOKafkaProducer(**{**node.client_options("gateway"), "sasl_plain_password": "not-the-password"},
                             request_timeout_ms=5000)
    with pytest.raises(KafkaError):
        await asyncio.wait_for(wrong.start(), 30)
    await wrong.stop()
