"""records' own Prometheus metrics, beside FastStream's: what happened to each result, and how long it took."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class RecordsMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.results = Counter("dsp_records_lab_results", "Lab results by outcome: stored, duplicate, parked, "
                               "awaiting-key, released, rejected, failed", ["outcome"], registry=registry)
        self.latency = Histogram("dsp_records_ingest_latency_seconds",
                                 "From the laboratory's publication (Kafka timestamp) to the stored document",
                                 buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
                                 registry=registry)

    def count(self, outcome: str, n: int = 1) -> None:
        if n:
            self.results.labels(outcome).inc(n)
