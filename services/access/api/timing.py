"""Where a decision's time goes inside the worker, on its `/metrics`: `dsp_access_decision_seconds{phase}`.

- `door`: from the endpoint's call to the handler (Host, content type, the service token, reading the body);
- `parse`: the JSON body into a request; `decide`: the view's answer; `audit`: waiting for the audit entry to be
  stored (no audit, no access); `total`: the whole endpoint, the answer sent.

A client's latency minus `total` is HTTP: uvicorn's parsing, the event loop's queue, the network.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CollectorRegistry, Histogram

PHASES = ("door", "parse", "decide", "audit", "total")
BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_started: contextvars.ContextVar[float] = contextvars.ContextVar("decision_started", default=0.0)
ASGI = Callable[[dict[str, Any], Callable[[], Awaitable[dict[str, Any]]],
                 Callable[[dict[str, Any]], Awaitable[None]]], Awaitable[None]]


class Phases:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        histogram = Histogram("dsp_access_decision_seconds", "Time of each phase of a decision, in seconds",
                              ["phase"], registry=registry, buckets=BUCKETS)
        self._phase = {phase: histogram.labels(phase) for phase in PHASES}

    def timed(self, app: ASGI) -> ASGI:
        """`app` (the decision endpoint) with its `total` timed, and the start of `door`."""
        total = self._phase["total"]

        async def run(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
                      send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
            started = time.perf_counter()
            _started.set(started)
            try:
                await app(scope, receive, send)
            finally:
                total.observe(time.perf_counter() - started)

        return run

    def entered(self) -> float:
        """The handler starts: `door` ends; the clock for the next phase."""
        now = time.perf_counter()
        started = _started.get()
        if started:
            self._phase["door"].observe(now - started)
        return now

    def lap(self, phase: str, since: float) -> float:
        now = time.perf_counter()
        self._phase[phase].observe(now - since)
        return now
