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
from typing import Any

from infra.local import LocalInfra, create_topics
from infra.procs import free_port
from services.kit.kafka_auth import options_from_env
from services.kit.labsign import LaboratoryKey


@dataclass
class Endpoints:
    bootstrap: str
    mongo_uri: str


@contextmanager
def infrastructure() -> Iterator[Endpoints]:
    """A fresh local Kafka + FerretDB on free ports (never the running mesh), or DSP_KAFKA_BOOTSTRAP/DSP_MONGO_URI."""
    if os.environ.get("DSP_KAFKA_BOOTSTRAP") and os.environ.get("DSP_MONGO_URI"):
        import asyncio

        bootstrap = os.environ["DSP_KAFKA_BOOTSTRAP"]
        asyncio.run(create_topics(bootstrap, options=kafka_options(bootstrap)))
        yield Endpoints(os.environ["DSP_KAFKA_BOOTSTRAP"], os.environ["DSP_MONGO_URI"])
        return
    # a SIGTERM (timeout, CI) must still stop the servers this benchmark started: make it an exception
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="dsp-bench-") as tmp:
        infra = LocalInfra(state_dir=Path(tmp), kafka_port=free_port(), controller_port=free_port(),
                           mongo_port=free_port(), tied=True)
        try:
            infra.up()
            os.environ.update(admin_env(infra))  # the benchmark and the workers it starts: as Kafka's admin
            yield Endpoints(infra.kafka.bootstrap, infra.ferret.admin_uri)  # FerretDB asks who connects
        finally:
            infra.down()


def admin_env(infra: LocalInfra) -> dict[str, str]:
    """DSP_KAFKA_* of the super user: a benchmark measures throughput, not the ACLs (tests/integration does)."""
    return {k: v for k, v in infra.kafka.client_env("admin").items() if k != "DSP_KAFKA_BOOTSTRAP"}


def kafka_options(bootstrap: str) -> dict[str, Any]:
    """aiokafka arguments for the benchmark's own clients: DSP_KAFKA_* credentials, if any, and `bootstrap`."""
    return {**options_from_env(os.environ), "bootstrap_servers": bootstrap}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def bench_line(name: str, **figures: Any) -> str:
    """The last line of every benchmark: `BENCH {json}` — its name, figures, and the machine it ran on."""
    import json
    import platform

    machine = {"cores": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()}
    return "BENCH " + json.dumps({"name": name, **figures, "machine": machine}, default=str)


def rounded(values: list[float], digits: int = 2) -> dict[str, float]:
    """p50 and p99 of `values`, rounded, for a BENCH line."""
    return {"p50": round(percentile(values, 50), digits), "p99": round(percentile(values, 99), digits)}


def report(name: str, rate: float, latencies_ms: list[float]) -> str:
    return (f"{name:<26} {rate:>10,.0f} results/s   p50 {percentile(latencies_ms, 50):>8.1f} ms   "
            f"p99 {percentile(latencies_ms, 99):>8.1f} ms   (n={len(latencies_ms)})")


class SignedLabs:
    """The benchmark's laboratories as records expects them: each signs its results with its own key (new each
    run, `services.kit.labsign`), announced on `directory.laboratories.v1` before anything is published, so that
    nothing waits for a key and the signature's cost (made here, checked by records) is in the figures."""

    def __init__(self, labs: list[str] | tuple[str, ...]) -> None:
        self.keys = {lab: LaboratoryKey.new(lab) for lab in labs}

    async def announce(self, producer: Any) -> None:
        import json

        for lab, key in self.keys.items():
            await producer.send_and_wait("directory.laboratories.v1", json.dumps(key.listing(f"Laboratoire {lab}"))
                                         .encode(), key=lab.encode())

    def headers(self, key: bytes, value: bytes, topic: str = "lab.results.v1") -> list[tuple[str, bytes]]:
        """The record's signature, by the laboratory its key `<laboratory_id>:<report_id>` names."""
        return self.keys[key.split(b":")[0].decode()].headers(topic, key, value)


def records_key() -> str:
    """A records worker's own key for a benchmark run (it seals the results it maps from FHIR; required)."""
    from services.kit.servicetokens import new_key

    return new_key()[0]
