"""python -m bench.access.http [--patients 20000] [--grants 200000] [--rate 2000] [--seconds 5]

Decisions as the gateway asks for them: `POST /v1/decisions` on a real access worker (its view loaded from a
MongoDB snapshot of --patients patients holding --grants grants; every professional's decision audited in
the hash chain before the answer). Requests are sent open-loop at --rate per second for --seconds by vegeta, a
native load generator (`bench.vegeta`, built on first use), so sending them does not eat the worker's CPU;
latency is measured from each request's scheduled time, so queueing counts. The raw baseline, in the same run, is
the same worker answering `GET /health/live` at the same rate: HTTP and the event loop, no decision, no audit.
The time split comes from the worker's own `/metrics` (`services.access.api.timing`): door (Host, content type, service
token), parse, decide, audit (waiting until the entry is stored); HTTP is the client's mean minus the endpoint's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from bench import vegeta
from bench.access.__main__ import T0, build, queries
from bench.access.phases import cpu_s, split
from bench.common import Endpoints, bench_line, infrastructure, percentile, rounded
from bench.seeding import numbered_matricule
from infra.procs import free_port
from infra.tools import VEGETA
from services.access.domain.decisions import PatientAccess
from services.access.store import encode_access
from services.kit.servicetokens import Signer, new_key


def snapshot(patients: int, grants: int, t0: datetime = T0) -> tuple[dict[str, PatientAccess], list[str],
                                                                    list[tuple[str, str, str]]]:
    """The bench's access view (`patients` patients by matricule holding `grants` grants given over the 30 days
    from `t0`), its professionals, and 50,000 queries (patient, professional, document): the same every run
    (seeded), but for the times."""
    rng = random.Random(7)
    built, pros = build(patients, grants, rng, t0)
    view = {numbered_matricule(i, T0.date().replace(year=1950)): access for i, access in enumerate(built.values())}
    return view, pros, queries(view, pros, 50_000, rng)


async def store(ends: Endpoints, prefix: str, view: dict[str, PatientAccess], pros: list[str]) -> None:
    """The view as the access worker's snapshot in MongoDB (it loads it when it starts)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(ends.mongo_uri, tz_aware=True)
    db = client[f"{prefix}_access"]
    docs = [{"_id": p, "version": 1, "access": encode_access(a), "updated_at": T0 - timedelta(seconds=i)}  # as if
            for i, (p, a) in enumerate(view.items())]  # changed one by one, not all in the catch-up's last 30 s
    for i in range(0, len(docs), 1000):
        await db["patients"].insert_many(docs[i:i + 1000])
    await db["professionals"].insert_many([{"_id": p, "active": True} for p in pros])
    await client.close()


async def seed(ends: Endpoints, prefix: str, patients: int, grants: int) -> list[tuple[str, str, str]]:
    view, pros, qs = snapshot(patients, grants)
    await store(ends, prefix, view, pros)
    return qs


GATEWAY_KEY, GATEWAY_PUBLIC = new_key()  # the bench calls as the gateway does, with a service token
SIGNER = Signer("gateway", GATEWAY_KEY)


def start_worker(ends: Endpoints, prefix: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DSP_KAFKA_BOOTSTRAP": ends.bootstrap, "DSP_MONGO_URI": ends.mongo_uri,
           "DSP_SERVICE_PUBLIC_KEYS": f"gateway={GATEWAY_PUBLIC}",
           "DSP_MONGO_DB_PREFIX": prefix, "DSP_KAFKA_GROUP_PREFIX": f"{prefix}-", "DSP_ACCESS_HTTP_PORT": str(port),
           "DSP_LOG_PSEUDONYM_KEY": secrets.token_hex(24), "DSP_LOG_LEVEL": "WARNING",
           "DSP_ACCESS_AUDIT_KEY": secrets.token_hex(32), "DSP_ACCESS_AUDIT_SIGNING_KEY": new_key()[0]}
    return subprocess.Popen([sys.executable, "-m", "services.access"], env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)


async def load(client: httpx.AsyncClient, port: int, pid: int, qs: list[tuple[str, str, str]],
               args: argparse.Namespace, tmp: Path) -> tuple[vegeta.Run, vegeta.Run, dict[str, dict[str, float]]]:
    """Warm-up, the baseline, then the decisions, each sent by vegeta; the worker's split of the decisions."""
    url, token = f"http://127.0.0.1:{port}", SIGNER.token("access")  # valid 2 min; one run is shorter
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    decisions = [vegeta.Target("POST", f"{url}/v1/decisions", headers, json.dumps(
        {"actor": {"kind": "professional", "id": pro}, "action": "read", "patient": patient,
         "document": doc}).encode()) for patient, pro, doc in qs]
    live = [vegeta.Target("GET", f"{url}/health/live", {})]
    await asyncio.to_thread(vegeta.binary)  # built (first time only) before the clock starts
    await asyncio.to_thread(vegeta.attack, decisions, 200, 1, tmp, "warm-up")
    baseline = await asyncio.to_thread(vegeta.attack, live, args.rate, args.seconds, tmp, "baseline")
    before, cpu = (await client.get("/metrics")).text, cpu_s(pid)
    served = await asyncio.to_thread(vegeta.attack, decisions, args.rate, args.seconds, tmp, "decisions")
    phases = split(before, (await client.get("/metrics")).text)
    phases["worker_cpu_per_decision"] = {"mean": round((cpu_s(pid) - cpu) / served.sent * 1000, 3)}
    return baseline, served, phases


async def run(args: argparse.Namespace, ends: Endpoints) -> None:
    with tempfile.TemporaryDirectory(prefix="dsp-bench-access-") as tmp:
        prefix, port = f"bench{secrets.token_hex(3)}", free_port()
        started = time.perf_counter()
        qs = await seed(ends, prefix, args.patients, args.grants)
        took = time.perf_counter() - started
        print(f"snapshot stored: {args.patients} patients, {args.grants} grants in {took:.1f}s")
        worker = start_worker(ends, prefix, port, Path(tmp) / "access.log")
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                started = time.perf_counter()
                while True:
                    try:
                        if (await client.get("/health/ready")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if worker.poll() is not None:
                        raise SystemExit((Path(tmp) / "access.log").read_text()[-2000:])
                    await asyncio.sleep(0.2)
                print(f"access worker ready (view loaded from the snapshot) in {time.perf_counter() - started:.1f}s")
                print(f"load generator: vegeta {VEGETA.version}; the worker's pid: {worker.pid}", flush=True)
                baseline, served, phases = await load(client, port, worker.pid, qs, args, Path(tmp))
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    report(args, baseline, served, phases)


def report(args: argparse.Namespace, baseline: vegeta.Run, served: vegeta.Run,
           phases: dict[str, dict[str, float]]) -> None:
    b_lat, d_lat = baseline.latencies_ms, served.latencies_ms
    for name, run_, lat in (("baseline GET /health/live", baseline, b_lat), ("POST /v1/decisions", served, d_lat)):
        print(f"{name:<26} {run_.served_per_s:>8,.0f} req/s offered {args.rate:.0f}/s   "
              f"p50 {percentile(lat, 50):>7.2f} ms   p99 {percentile(lat, 99):>7.2f} ms   (n={len(lat)} of "
              f"{run_.sent}{', no answer: ' + str(run_.errors) if run_.errors else ''})")
    http_ms = statistics.fmean(d_lat) - phases["total"]["mean"]
    print("time split, mean (p99 bucket) ms (audit_batch: entries a commit): " + "   ".join(
        f"{phase} {v['mean']:.3f}" + (f" (<= {v['p99_le']:g})" if "p99_le" in v else "")
        for phase, v in phases.items()) +
        f"   http (client mean - total) {http_ms:.3f}")
    print(f"ratio (p99 baseline / p99 decisions): {percentile(b_lat, 99) / percentile(d_lat, 99):.2f}   "
          f"goal: p99 < 5 ms at {args.rate:.0f}/s")
    print(bench_line("access-http", generator=f"vegeta {VEGETA.version}", patients=args.patients,
                     grants=args.grants, offered_per_s=args.rate, decisions_per_s=round(served.served_per_s),
                     baseline_per_s=round(baseline.served_per_s),
                     ratio_p99=round(percentile(b_lat, 99) / percentile(d_lat, 99), 3),
                     decisions_latency_ms=rounded(d_lat), baseline_latency_ms=rounded(b_lat),
                     decisions_unanswered=sum(served.errors.values()),
                     baseline_unanswered=sum(baseline.errors.values()),
                     split_ms={**phases, "http": {"mean": round(http_ms, 3)}}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--grants", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with infrastructure() as ends:
        asyncio.run(run(args, ends))


if __name__ == "__main__":
    main()
