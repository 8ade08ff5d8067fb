"""What every benchmark shares: its own infrastructure (or DSP_* existing one), percentiles, a report line."""

from __future__ import annotations

import os
import signal
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from infra.local import LocalInfra, create_topics
from infra.procs import free_port


@dataclass
class Endpoints:
    bootstrap: str
    mongo_uri: str


@contextmanager
def infrastructure() -> Iterator[Endpoints]:
    """A fresh local Kafka + FerretDB on free ports (never the running mesh), or DSP_KAFKA_BOOTSTRAP/DSP_MONGO_URI."""
    if os.environ.get("DSP_KAFKA_BOOTSTRAP") and os.environ.get("DSP_MONGO_URI"):
        import asyncio

        asyncio.run(create_topics(os.environ["DSP_KAFKA_BOOTSTRAP"]))
        yield Endpoints(os.environ["DSP_KAFKA_BOOTSTRAP"], os.environ["DSP_MONGO_URI"])
        return
    # a SIGTERM (timeout, CI) must still stop the servers this benchmark started: make it an exception
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="dsp-bench-") as tmp:
        infra = LocalInfra(state_dir=Path(tmp), kafka_port=free_port(), controller_port=free_port(),
                           mongo_port=free_port())
        try:
            infra.up()
            yield Endpoints(infra.kafka.bootstrap, infra.ferret.uri)
        finally:
            infra.down()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def report(name: str, rate: float, latencies_ms: list[float]) -> str:
    return (f"{name:<26} {rate:>10,.0f} results/s   p50 {percentile(latencies_ms, 50):>8.1f} ms   "
            f"p99 {percentile(latencies_ms, 99):>8.1f} ms   (n={len(latencies_ms)})")
