"""A broker outage in the log: the Kafka clients' reconnect errors become one "unreachable" line and one
"reachable" line (issue 16: about 3,400 aiokafka error lines for a 14 s broker restart)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from aiokafka.errors import KafkaConnectionError

from services.kit import logging as kit_logging
from services.kit.outage_log import KafkaOutageLog, quiet_kafka_outages


@pytest.fixture
def guard() -> Iterator[KafkaOutageLog]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("aiokafka").level)
    installed = quiet_kafka_outages("127.0.0.1:1")
    installed.confirm_s, installed.probe_every_s, installed.grace_s = 0.01, 0.01, 0.5
    yield installed
    aiokafka = logging.getLogger("aiokafka")
    aiokafka.removeHandler(installed)
    aiokafka.propagate = True
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    aiokafka.setLevel(saved[2])
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def configure() -> None:
    """In the test itself, so that the log goes to the stdout capsys reads."""
    kit_logging.configure("unit", "INFO", json=True)


def lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


async def test_thousands_of_reconnect_errors_are_two_lines(guard: KafkaOutageLog, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    configure()
    monkeypatch.setattr(guard, "reachable", answering(False, False, False, False, False, True))
    client, fetcher = logging.getLogger("aiokafka"), logging.getLogger("aiokafka.consumer.fetcher")
    for _ in range(500):
        client.error("Unable connect to node with id %s: %s", 1, "[Errno 111] Connection refused")
        client.error("Unable to update metadata from [1]")
        fetcher.error("Failed fetch messages from 1: %s", KafkaConnectionError("Connection at 127.0.0.1:1 closed"))
    logging.getLogger("aiokafka.consumer.group_coordinator").warning("Marking the coordinator dead (node 1)")
    await guard.outage_over()
    client.error("Unable connect to node with id 1: [Errno 111] Connection refused")  # a straggler, just after
    out = lines(capsys.readouterr().out)
    assert [(e["level"], str(e["event"]).split(";")[0], e["dependency"]) for e in out] == [
        ("warning", "dependency unreachable", "kafka"), ("info", "dependency reachable", "kafka")]
    assert out[1]["held_back"] == 1501


async def test_a_broker_shutting_down_first_says_not_coordinator(
        guard: KafkaOutageLog, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Seen in CI: a stopping broker answered a heartbeat before it closed its connections; that warning came
    before the outage was noticed and went out as a client line."""
    configure()
    monkeypatch.setattr(guard, "reachable", answering(False, False, True))
    logging.getLogger("aiokafka.consumer.group_coordinator").warning(
        "Heartbeat failed for group %s: coordinator (node %s) is either not started or not valid", "g", 1)
    logging.getLogger("aiokafka").error("Unable connect to node with id 1: [Errno 111] Connection refused")
    await guard.outage_over()
    assert [str(e["event"]).split(";")[0] for e in lines(capsys.readouterr().out)] == [
        "dependency unreachable", "dependency reachable"]


def answering(*answers: bool) -> Any:
    replies = iter(answers)

    async def reachable() -> bool:
        return next(replies, True)

    return reachable


async def test_other_client_lines_pass_and_a_later_outage_is_reported_again(
        guard: KafkaOutageLog, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    configure()
    monkeypatch.setattr(guard, "reachable", answering(False, True, False, True))
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    coordinator.warning("Heartbeat failed for group %s because it is rebalancing", "g")
    coordinator.error("Heartbeat send request failed: %s. Will retry.", "NodeNotReadyError")
    await guard.outage_over()
    coordinator.warning("Heartbeat failed for group %s because it is rebalancing", "g")  # the reconnection's
    await asyncio.sleep(0.6)  # past the grace period: the next error is a new outage
    coordinator.error("Heartbeat send request failed: %s. Will retry.", "NodeNotReadyError")
    await guard.outage_over()
    events = [str(e["event"]).split(";")[0] for e in lines(capsys.readouterr().out)]
    assert events == ["Heartbeat failed for group g because it is rebalancing", "dependency unreachable",
                      "dependency reachable", "dependency unreachable", "dependency reachable"]


async def test_a_blip_is_logged_as_the_clients_said_it(guard: KafkaOutageLog, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A coordinator not ready yet, stale metadata at start-up: the broker answers the probe; not an outage."""
    configure()
    monkeypatch.setattr(guard, "reachable", answering(True))
    logging.getLogger("aiokafka").error("Unable connect to node with id None: StaleMetadata")
    logging.getLogger("aiokafka.consumer.group_coordinator").error(
        "Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError")
    await guard.outage_over()
    assert [e["event"] for e in lines(capsys.readouterr().out)] == [
        "Unable connect to node with id None: StaleMetadata",
        "Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError"]


def test_outside_an_event_loop_nothing_is_held_back(guard: KafkaOutageLog, capsys: pytest.CaptureFixture[str]) -> None:
    configure()
    logging.getLogger("aiokafka").error("Unable to update metadata from [1]")
    assert [e["event"] for e in lines(capsys.readouterr().out)] == ["Unable to update metadata from [1]"]
