"""python -m bench.access.versus [--patients 20000] [--grants 200000] [--rates 250,500,1000,2000] [--seconds 10]

Our access decisions beside SpiceDB's, in one run, on the same data and the same load:

1. SpiceDB v1.56.2 on PostgreSQL (`bench.access.spicedb`: built once, Debian's PostgreSQL in a private cluster)
   holding the bench's --patients patients and --grants grants as relationships; 500 checks (not measured) are
   compared with our decide() first: the bench stops unless 99% agree (a grant may begin or end in between); then,
   at each rate, `GET /healthz` and `POST /v1/permissions/check`.
   PostgreSQL and SpiceDB are stopped before our side starts: each is measured alone on the machine.
2. Our access worker on its own Kafka and FerretDB (`bench.access.http`: the same view as a MongoDB snapshot),
   at each rate `GET /health/live` and `POST /v1/decisions`, every professional's decision durably audited in the
   hash chain before it is answered; the worker's time split per rate from its /metrics.

Load: vegeta (`bench.vegeta`), open loop, --seconds per rate, latency from each request's scheduled time. Each
decision phase sends its own slice of the same query list (patient, professional), the same slices to both: no
check is repeated within a run, so neither side answers from a cache warmed by an earlier rate. A knee is the
highest offered rate whose p99 is under 10 ms with every request answered (null: none).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench import vegeta
from bench.access import spicedb
from bench.access.http import SIGNER, snapshot, start_worker, store
from bench.access.phases import cpu_s, split
from bench.common import Endpoints, bench_line, infrastructure, percentile
from infra.procs import free_port
from infra.tools import VEGETA
from services.access.domain.decisions import Action, Actor, PatientAccess, decide

KNEE_P99_MS = 10.0
WARM_UP = 200  # requests at 200/s before the first rate, on each side
AGREEMENT_SAMPLE = 500  # checks compared with decide() before SpiceDB is measured

Query = tuple[str, str, str]  # patient, professional, document


@dataclass(frozen=True)
class Measured:
    """One side at one rate: its decisions and its health endpoint."""
    decisions: vegeta.Run
    health: vegeta.Run
    split_ms: dict[str, dict[str, float]] | None = None  # ours only: the worker's phases


def knee(points: list[tuple[float, float, int]], limit_ms: float = KNEE_P99_MS) -> float | None:
    """The highest offered rate of (offered/s, p99 ms, unanswered) whose p99 is under `limit_ms` with every request
    answered; None when no rate is."""
    good = [rate for rate, p99, unanswered in points if p99 < limit_ms and unanswered == 0]
    return max(good) if good else None


def slices(qs: list[Query], rates: list[float], seconds: float) -> list[list[Query]]:
    """The queries of the warm-up, then of each rate: consecutive, never overlapping (wrapping only if `qs` is too
    short for the whole run)."""
    out, at = [], 0
    for n in [WARM_UP] + [round(rate * seconds) for rate in rates]:
        out.append([qs[(at + i) % len(qs)] for i in range(n)])
        at += n
    return out


def agreement(server: spicedb.SpiceDB, token: str, view: dict[str, PatientAccess],
              qs: list[Query]) -> tuple[int, int]:
    """How many of `qs` SpiceDB answers as our decide() does now (the document aside: no relation models a
    document block), and how many of those allow."""
    same = allowed = 0
    for patient, pro, _ in qs:
        ours = decide(view[patient], Actor("professional", pro), Action.READ, patient, datetime.now(UTC)).allowed
        same += spicedb.check(server, patient, pro, token) == ours
        allowed += ours
    return same, allowed


def measure_spicedb(view: dict[str, PatientAccess], parts: list[list[Query]], sample: list[Query],
                    args: argparse.Namespace, tmp: Path) -> tuple[list[Measured], dict[str, Any]]:
    with spicedb.postgres(tmp) as db, spicedb.spicedb(db, tmp) as server:
        print(f"{db.version}; spicedb {spicedb.SPICEDB.version} serving on {server.url}", flush=True)
        started = time.perf_counter()
        rels = spicedb.relationships(view, datetime.now(UTC))
        token = spicedb.load(server, rels)
        spicedb.analyze(db)
        print(f"relationships written: {len(rels):,} in {time.perf_counter() - started:.1f}s", flush=True)
        same, allowed = agreement(server, token, view, sample)
        print(f"agreement with decide(): {same}/{len(sample)} checks ({allowed} allowed)", flush=True)
        if same < 0.99 * len(sample):  # not all: a grant may begin or end between the load and the check
            raise SystemExit("SpiceDB's answers differ from ours: the schema or the relationships are wrong")

        def targets(part: list[Query]) -> list[vegeta.Target]:
            return [vegeta.Target("POST", f"{server.url}/v1/permissions/check", server.headers,
                                  spicedb.check_body(patient, pro)) for patient, pro, _ in part]

        health = [vegeta.Target("GET", f"{server.url}/healthz", {})]
        vegeta.attack(targets(parts[0]), 200, 1, tmp, "spicedb-warm-up")
        out, cpu = [], (0.0, 0.0, 0)
        for rate, part in zip(args.rates, parts[1:], strict=True):
            h = vegeta.attack(health, rate, args.seconds, tmp, f"spicedb-health-{rate:.0f}")
            before = (cpu_s(server.process.pid), db.cpu_s())
            d = vegeta.attack(targets(part), rate, args.seconds, tmp, f"spicedb-check-{rate:.0f}")
            cpu = (cpu[0] + cpu_s(server.process.pid) - before[0], cpu[1] + db.cpu_s() - before[1], cpu[2] + d.sent)
            out.append(Measured(d, h))
            line("spicedb", rate, out[-1])
        return out, {"postgres": db.version, "relationships": len(rels), "agreement": f"{same}/{len(sample)}",
                     "spicedb_cpu_ms_per_check": round(cpu[0] / cpu[2] * 1000, 3),
                     "postgres_cpu_ms_per_check": round(cpu[1] / cpu[2] * 1000, 3)}


async def measure_ours(ends: Endpoints, view: dict[str, PatientAccess], pros: list[str], parts: list[list[Query]],
                       args: argparse.Namespace, tmp: Path) -> tuple[list[Measured], float]:
    prefix, port = f"bench{time.time_ns() % 10**8}", free_port()
    started = time.perf_counter()
    await store(ends, prefix, view, pros)
    print(f"snapshot stored: {len(view)} patients in {time.perf_counter() - started:.1f}s", flush=True)
    worker = start_worker(ends, prefix, port, tmp / "access.log")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            while True:
                try:
                    if (await client.get("/health/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if worker.poll() is not None:
                    raise SystemExit((tmp / "access.log").read_text()[-2000:])
                await asyncio.sleep(0.2)
            url = f"http://127.0.0.1:{port}"

            def targets(part: list[Query]) -> list[vegeta.Target]:  # a service token is valid 2 min: one per rate
                headers = {"Content-Type": "application/json", "Authorization": f"Bearer {SIGNER.token('access')}"}
                return [vegeta.Target("POST", f"{url}/v1/decisions", headers, json.dumps(
                    {"actor": {"kind": "professional", "id": pro}, "action": "read", "patient": patient,
                     "document": doc}).encode()) for patient, pro, doc in part]

            health = [vegeta.Target("GET", f"{url}/health/live", {})]
            await asyncio.to_thread(vegeta.attack, targets(parts[0]), 200, 1, tmp, "ours-warm-up")
            out, cpu, sent = [], 0.0, 0
            for rate, part in zip(args.rates, parts[1:], strict=True):
                h = await asyncio.to_thread(vegeta.attack, health, rate, args.seconds, tmp, f"ours-health-{rate:.0f}")
                before, cpu0 = (await client.get("/metrics")).text, cpu_s(worker.pid)
                d = await asyncio.to_thread(vegeta.attack, targets(part), rate, args.seconds, tmp,
                                            f"ours-decisions-{rate:.0f}")
                cpu, sent = cpu + cpu_s(worker.pid) - cpu0, sent + d.sent
                out.append(Measured(d, h, split(before, (await client.get("/metrics")).text)))
                line("ours", rate, out[-1])
            return out, round(cpu / sent * 1000, 3)
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def line(side: str, rate: float, m: Measured) -> None:
    d, h = m.decisions, m.health
    unanswered = f", no answer: {d.errors}" if d.errors else ""
    split_ms = m.split_ms or {}
    audit = f"   audit wait mean {split_ms['audit']['mean']:.1f} ms" if "audit" in split_ms else ""
    if "audit_commit" in split_ms:
        audit += (f" (queued {split_ms['audit_queue']['mean']:.1f}, commit {split_ms['audit_commit']['mean']:.1f} ms"
                  f" of {split_ms['audit_batch']['mean']:.1f} entries)")
    print(f"  {side:<8} {rate:>6,.0f}/s offered: decisions p50 {percentile(d.latencies_ms, 50):>8.1f} ms  "
          f"p99 {percentile(d.latencies_ms, 99):>8.1f} ms  served {d.served_per_s:>6,.0f}/s   health p99 "
          f"{percentile(h.latencies_ms, 99):>6.1f} ms{audit}{unanswered}", flush=True)


def ms(values: list[float], q: float) -> float:
    return round(percentile(values, q), 2)


def table(rates: list[float], spice: list[Measured], ours: list[Measured]) -> list[dict[str, Any]]:
    """One row per rate: the BENCH line's `rates`."""
    return [{"offered_per_s": rate,
             "ours_p50_ms": ms(o.decisions.latencies_ms, 50), "ours_p99_ms": ms(o.decisions.latencies_ms, 99),
             "ours_served_per_s": round(o.decisions.served_per_s), "ours_unanswered": sum(o.decisions.errors.values()),
             "spicedb_p50_ms": ms(s.decisions.latencies_ms, 50), "spicedb_p99_ms": ms(s.decisions.latencies_ms, 99),
             "spicedb_served_per_s": round(s.decisions.served_per_s),
             "spicedb_unanswered": sum(s.decisions.errors.values()),
             "health_p99_ms": ms(o.health.latencies_ms, 99), "spicedb_health_p99_ms": ms(s.health.latencies_ms, 99),
             "ours_audit_wait_mean_ms": (o.split_ms or {}).get("audit", {}).get("mean"),
             "ours_audit_commit_mean_ms": (o.split_ms or {}).get("audit_commit", {}).get("mean"),
             "ours_audit_batch_mean": (o.split_ms or {}).get("audit_batch", {}).get("mean")}
            for rate, s, o in zip(rates, spice, ours, strict=True)]


def report(rows: list[dict[str, Any]], facts: dict[str, Any], args: argparse.Namespace) -> None:
    print("\n| offered/s | SpiceDB on PostgreSQL p50 / p99 ms (served/s) | ours, audited, p50 / p99 ms (served/s) "
          "| health p99 ms: SpiceDB · ours |")
    print("|---|---|---|---|")
    def f(v: float) -> str:
        return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"

    for r in rows:
        print(f"| {r['offered_per_s']:,.0f} | {f(r['spicedb_p50_ms'])} / {f(r['spicedb_p99_ms'])} "
              f"({r['spicedb_served_per_s']:,}) | {f(r['ours_p50_ms'])} / {f(r['ours_p99_ms'])} "
              f"({r['ours_served_per_s']:,}) | {f(r['spicedb_health_p99_ms'])} · {f(r['health_p99_ms'])} |")
    ours_knee = knee([(r["offered_per_s"], r["ours_p99_ms"], r["ours_unanswered"]) for r in rows])
    spice_knee = knee([(r["offered_per_s"], r["spicedb_p99_ms"], r["spicedb_unanswered"]) for r in rows])
    print(f"knee (highest rate with p99 < {KNEE_P99_MS:g} ms): ours {ours_knee}, SpiceDB {spice_knee}; CPU per "
          f"decision: our worker {facts['worker_cpu_ms_per_decision']} ms, SpiceDB {facts['spicedb_cpu_ms_per_check']}"
          f" ms + PostgreSQL {facts['postgres_cpu_ms_per_check']} ms")
    print(bench_line("access-vs-spicedb", generator=f"vegeta {VEGETA.version}",
                     spicedb=spicedb.SPICEDB.version, patients=args.patients, grants=args.grants,
                     seconds_per_rate=args.seconds, rates=rows, ours_knee_per_s=ours_knee,
                     spicedb_knee_per_s=spice_knee, **facts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--grants", type=int, default=200_000)
    parser.add_argument("--rates", type=lambda s: [int(r) for r in s.split(",")], default=[250, 500, 1000, 2000])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a SIGTERM still stops PostgreSQL and the servers
    vegeta.binary()  # both built (first time only) before anything starts
    spicedb.binary()
    # every grant given before the run (over the 30 days to yesterday): SpiceDB holds them all, as our view does
    t0 = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=31)
    view, pros, qs = snapshot(args.patients, args.grants, t0)
    sample, qs = qs[-AGREEMENT_SAMPLE:], qs[:-AGREEMENT_SAMPLE]  # the agreement's checks are not measured
    parts = slices(qs, args.rates, args.seconds)
    print(f"view: {args.patients:,} patients, {args.grants:,} grants; load generator: vegeta {VEGETA.version}, "
          f"open loop, {args.seconds:g} s a rate", flush=True)
    with tempfile.TemporaryDirectory(prefix="dsp-bench-spicedb-") as tmp:
        print("SpiceDB on PostgreSQL:", flush=True)
        spice, facts = measure_spicedb(view, parts, sample, args, Path(tmp))
    with tempfile.TemporaryDirectory(prefix="dsp-bench-ours-") as tmp, infrastructure() as ends:
        print("our access worker on Kafka and FerretDB:", flush=True)
        ours, cpu = asyncio.run(measure_ours(ends, view, pros, parts, args, Path(tmp)))
    report(table(args.rates, spice, ours), {"worker_cpu_ms_per_decision": cpu, **facts}, args)


if __name__ == "__main__":
    main()
