"""The pure parts of the access-vs-SpiceDB bench (`bench.access.versus`): vegeta's CSV results read into latencies
from each request's scheduled time, the knee, the query slices, and our grants as SpiceDB relationships."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from bench import vegeta
from bench.access import spicedb
from bench.access.versus import WARM_UP, knee, slices
from services.access.domain import state as ev
from services.access.domain.decisions import PatientAccess
from services.access.domain.grants import GrantKind

T = 1_800_000_000 * 10**9  # an attack's start, ns since the epoch


def row(seq: int, sent_ms: float, latency_ms: float, code: int = 200, error: str = "") -> list[str]:
    """A line of `vegeta encode --to csv`: timestamp, code, latency, bytes out/in, error, body, name, seq, ..."""
    return [str(T + int(sent_ms * 1e6)), str(code), str(int(latency_ms * 1e6)), "0", "2", error,
            base64.b64encode(b"{}").decode(), "decisions", str(seq), "POST", "http://127.0.0.1:1/v1/decisions", ""]


def test_latency_runs_from_each_request_scheduled_time_not_from_when_it_was_sent() -> None:
    # 100/s: request i is due at i * 10 ms; request 2 was sent 15 ms late (no idle worker), answered in 1 ms
    run = vegeta.parse([row(0, 0, 1), row(1, 10, 2), row(2, 35, 1)], rate=100)
    assert run.latencies_ms == pytest.approx([1, 2, 16], abs=1e-3)  # ns since the epoch as floats: ~0.3 µs
    assert run.sent == 3 and run.errors == {}
    assert run.served_per_s == pytest.approx(3 / 0.036)  # from request 0's due time to the last answer


def test_the_start_is_when_request_zero_was_due_even_if_it_was_sent_late() -> None:
    run = vegeta.parse([row(1, 10, 1), row(0, 4, 1)], rate=100)  # 0 sent 4 ms late, 1 on time
    assert run.latencies_ms == pytest.approx([1, 5], abs=1e-3)


def test_no_answer_is_an_error_by_its_cause_and_not_a_latency() -> None:
    rows = [row(0, 0, 1), row(1, 10, 30_000, code=0, error='Post "http://x": context deadline exceeded'),
            row(2, 20, 0, code=0, error="read tcp 127.0.0.1:1: connection reset by peer")]
    run = vegeta.parse(rows, rate=100)
    assert run.latencies_ms == pytest.approx([1], abs=1e-3)
    assert run.errors == {"context deadline exceeded": 1, "connection reset by peer": 1}


def test_an_http_error_stops_the_bench_with_the_answer() -> None:
    with pytest.raises(RuntimeError, match="HTTP 401"):
        vegeta.parse([row(0, 0, 1), row(1, 10, 1, code=401)], rate=100)
    with pytest.raises(RuntimeError, match="no request"):
        vegeta.parse([], rate=100)


def test_the_knee_is_the_highest_rate_under_10_ms_with_every_request_answered() -> None:
    assert knee([(250, 3.0, 0), (500, 9.9, 0), (1000, 12.0, 0), (2000, 900.0, 0)]) == 500
    assert knee([(250, 3.0, 0), (500, 4.0, 3), (1000, 5.0, 0)]) == 1000  # 500 lost 3: not a knee, 1000 is
    assert knee([(250, 10.0, 0), (500, 20.0, 0)]) is None  # "under": 10 ms is not
    assert knee([(250, 1.0, 0)], limit_ms=0.5) is None


def test_each_rate_sends_its_own_queries() -> None:
    qs = [(f"p{i}", f"pro{i}", "doc-0") for i in range(WARM_UP + 300)]
    warm, first, second = slices(qs, [10, 20], seconds=10)
    assert len(warm) == WARM_UP and len(first) == 100 and len(second) == 200
    assert not {*warm} & {*first} and not {*first} & {*second}
    assert second[-1] == qs[WARM_UP + 299]


def test_grants_become_relationships_with_their_end_as_native_expiration() -> None:
    at, now = datetime(2026, 11, 22, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    access = PatientAccess()
    ev.apply(access, ev.CircleMemberAdded("PRO-1", at, None))
    ev.apply(access, ev.CircleMemberAdded("PRO-2", at, 30))
    ev.apply(access, ev.GrantGiven(GrantKind.PRESENCE, "PRO-3", at))  # ended 24 h later: kept, expired
    ev.apply(access, ev.GrantGiven(GrantKind.EMERGENCY, "PRO-4", now + timedelta(days=1)))  # given later: not yet
    ev.apply(access, ev.ProfessionalBlocked("PRO-5", at))
    rels = {(r["relation"], r["subject"]["object"]["objectId"]): r
            for r in spicedb.relationships({"1950010100012": access}, now)}
    assert set(rels) == {("circle", "PRO-1"), ("circle", "PRO-2"), ("presence", "PRO-3"), ("blocked", "PRO-5")}
    assert "optionalExpiresAt" not in rels["circle", "PRO-1"]
    assert rels["circle", "PRO-2"]["optionalExpiresAt"] == "2026-12-22T00:00:00Z"
    assert rels["presence", "PRO-3"]["optionalExpiresAt"] == "2026-11-23T00:00:00Z"
    assert rels["blocked", "PRO-5"]["resource"] == {"objectType": "patient", "objectId": "1950010100012"}


def test_a_check_asks_for_read_on_the_patient_by_the_professional() -> None:
    body = json.loads(spicedb.check_body("1950010100012", "PRO-1"))
    assert body["resource"] == {"objectType": "patient", "objectId": "1950010100012"}
    assert body["subject"] == {"object": {"objectType": "professional", "objectId": "PRO-1"}}
    assert body["permission"] == "read"
    assert spicedb.allowed({"permissionship": "PERMISSIONSHIP_HAS_PERMISSION"})
    assert not spicedb.allowed({"permissionship": "PERMISSIONSHIP_NO_PERMISSION"})


def test_a_measured_check_minimizes_latency_and_the_agreement_check_reads_after_the_load() -> None:
    assert json.loads(spicedb.check_body("1950010100012", "PRO-1"))["consistency"] == {"minimizeLatency": True}
    assert json.loads(spicedb.check_body("1950010100012", "PRO-1", "GhUKEzE3"))["consistency"] == {
        "atLeastAsFresh": {"token": "GhUKEzE3"}}


def test_the_time_split_says_where_the_audit_wait_went() -> None:
    """`phases.split` between two scrapes of the worker's /metrics: each decision phase, then the audit's queue,
    its commits and their size (`services.access.store.audit_log.CommitTiming`), counting only what came between."""
    from prometheus_client import CollectorRegistry, generate_latest

    from bench.access.phases import split
    from services.access.api.timing import Phases
    from services.access.store.audit_log import CommitTiming

    registry = CollectorRegistry()
    phases, timing = Phases(registry), CommitTiming(registry)
    timing.commit.observe(1.0)  # before the first scrape: not counted
    before = generate_latest(registry).decode()
    phases._phase["audit"].observe(0.004)
    phases._phase["audit"].observe(0.002)
    for queued in (0.001, 0.003):
        timing.queue.observe(queued)
    timing.commit.observe(0.002)
    timing.entries.observe(2)
    found = split(before, generate_latest(registry).decode())
    assert found["audit"] == {"mean": 3.0, "p99_le": 5.0}
    assert found["audit_queue"] == {"mean": 2.0, "p99_le": 5.0}
    assert found["audit_commit"] == {"mean": 2.0, "p99_le": 2.5}
    assert found["audit_batch"] == {"mean": 2.0, "p99_le": 2.0}
    assert "decide" not in found  # no decision phase observed in between
