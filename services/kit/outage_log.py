"""A Kafka broker outage logged as a database outage is: the clients' thousands of reconnect errors held back,
one line when it starts and one when it is over (`quiet_kafka_outages`, installed by `broker.make_broker`)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter
from typing import Any

import structlog
from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError

log = structlog.get_logger("dsp.kafka")


class KafkaOutageLog(logging.Handler):
    """The one handler of the `aiokafka` loggers (which no longer propagate; what passes is handed to the root
    logger's handlers unchanged). While the broker is unreachable its clients log each failed reconnect,
    fetch, heartbeat and metadata refresh — thousands of lines a minute. Here:

    - a connection error makes the broker *suspect*: what the clients log is held back, and after `confirm_s`
      a probe asks the bootstrap servers for metadata. If one answers it was a blip: the held-back lines (the
      first 20) are logged as they were. If none does, one WARNING "dependency unreachable" (dependency kafka);
    - during the outage everything the clients log is held back and counted; the probe runs every
      `probe_every_s`, a reminder is logged once a minute, and when a server answers, one INFO "dependency
      reachable" says how long it took and how many lines were held back;
    - for `grace_s` after that, the clients' last reconnect errors and the rebalance their reconnection causes
      are held back too; any other line passes.
    """

    NOISE = re.compile(
        r"Unable (to )?connect|Unable to (update|request) metadata|Connection at \S+ closed|Connection refused"
        r"|NodeNotReady|KafkaConnectionError|RequestTimedOut|KafkaTimeoutError|coordinator dead"
        r"|Coordinator ?(Request failed|NotAvailable)|NotCoordinator|Heartbeat send request failed"
        r"|Error sending \w+Request|Failed fetch (messages|offsets)|Got error produce response"
        r"|Cannot send|Could not send|Connection (reset|lost|closed)|Broken pipe|Errno \d+"
        # a broker shutting down answers heartbeats "not coordinator" before it closes its connections: the
        # first sign of an outage as often as a coordinator moving (the probe tells the two apart)
        r"|not started or not valid", re.IGNORECASE)
    AFTERMATH = re.compile(r"because it is rebalancing|will rejoin|UnknownMemberId|IllegalGeneration")
    KEPT = 20

    def __init__(self, bootstrap: str, confirm_s: float = 0.5, probe_every_s: float = 1.0, grace_s: float = 20.0,
                 remind_every_s: float = 60.0) -> None:
        super().__init__()
        self.bootstrap, self.confirm_s, self.probe_every_s = bootstrap, confirm_s, probe_every_s
        self.grace_s, self.remind_every_s = grace_s, remind_every_s
        self.state = "up"  # up | suspect | down
        self.since = 0.0
        self.back_at = -1e9
        self.held: list[logging.LogRecord] = []
        self.held_back = 0
        self.held_kinds: Counter[str] = Counter()
        self._watch: asyncio.Task[None] | None = None
        self.options: dict[str, Any] = {}  # the service's Kafka credentials (kit.kafka_auth)

    @classmethod
    def is_noise(cls, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, OSError | TimeoutError | KafkaError) and cls.NOISE.search(repr(exc)):
            return True
        return bool(cls.NOISE.search(cls._text(record)))

    @staticmethod
    def _text(record: logging.LogRecord) -> str:
        try:
            return record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is not ours to judge
            return str(record.msg)

    def emit(self, record: logging.LogRecord) -> None:
        if self.state != "up":  # while suspect or down, whatever the clients say is the outage's echo
            self.held_back += 1
            self.held_kinds[str(record.msg)[:60]] += 1
            if self.state == "suspect" and len(self.held) < self.KEPT:
                self.held.append(record)
            return
        noise = self.is_noise(record)
        if time.monotonic() - self.back_at < self.grace_s and (noise or self.AFTERMATH.search(self._text(record))):
            self.held_back += 1
            return
        if noise and self._suspect(record):
            return
        self._forward(record)

    def _suspect(self, record: logging.LogRecord) -> bool:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not logged from the event loop: nothing can watch for the broker's return
            return False
        self.state, self.since, self.held, self.held_back = "suspect", time.monotonic(), [record], 1
        self.held_kinds = Counter({str(record.msg)[:60]: 1})
        self._watch = loop.create_task(self._watch_broker())
        return True

    async def _watch_broker(self) -> None:
        try:
            await asyncio.sleep(self.confirm_s)
            if await self.reachable():  # a blip (a coordinator moving, stale metadata): say what the clients said
                held, self.held, self.state = self.held, [], "up"
                for record in held:
                    self._forward(record)
                return
            first = self._text(self.held[0])[:200]
            self.state, self.held = "down", []
            log.warning("dependency unreachable; Kafka clients reconnecting, their errors held back until it is "
                        "back", dependency="kafka", detail=first)
            reminded = time.monotonic()
            while not await self.reachable():
                await asyncio.sleep(self.probe_every_s)
                if time.monotonic() - reminded >= self.remind_every_s:
                    reminded = time.monotonic()
                    log.warning("dependency still unreachable", dependency="kafka",
                                waited_s=round(reminded - self.since, 1), held_back=self.held_back)
            log.info("dependency reachable", dependency="kafka", waited_s=round(time.monotonic() - self.since, 1),
                     held_back=self.held_back, most_held_back=dict(self.held_kinds.most_common(3)))
            self.back_at = time.monotonic()
        finally:
            self.state, self.held, self._watch = "up", [], None
            self.held_back = 0

    async def outage_over(self) -> None:
        """Return once no outage is being watched (at once if none is)."""
        if self._watch is not None:
            await asyncio.shield(self._watch)

    async def reachable(self) -> bool:
        """A metadata request answered by one of the bootstrap servers (its own errors are held back)."""
        client = AIOKafkaClient(**{**self.options, "bootstrap_servers": self.bootstrap}, request_timeout_ms=3000)
        try:
            await asyncio.wait_for(client.bootstrap(), 5)
            return bool(client.cluster.brokers())
        except (KafkaError, OSError, TimeoutError):
            return False
        finally:
            await client.close()

    @staticmethod
    def _forward(record: logging.LogRecord) -> None:
        handlers = logging.getLogger().handlers
        if not handlers and logging.lastResort is not None:
            handlers = [logging.lastResort]
        for handler in handlers:
            if record.levelno >= handler.level:
                handler.handle(record)


def quiet_kafka_outages(bootstrap: str, options: dict[str, Any] | None = None) -> KafkaOutageLog:
    """Install (once per process) the handler that turns a broker outage into two log lines."""
    kafka_logger = logging.getLogger("aiokafka")
    for handler in kafka_logger.handlers:
        if isinstance(handler, KafkaOutageLog):
            handler.bootstrap, handler.options = bootstrap, options or {}
            return handler
    guard = KafkaOutageLog(bootstrap)
    guard.options = options or {}
    kafka_logger.addHandler(guard)
    kafka_logger.propagate = False
    return guard
