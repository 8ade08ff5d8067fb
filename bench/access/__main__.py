"""python -m bench.access [--patients 100000] [--grants 1000000] [--rate 2000] [--seconds 5]

Access decisions against the in-memory view the access worker keeps: --patients patients holding
--grants grants (circle members, presence passwords, emergency grants; some blocked professionals and
documents). Reports decisions/s of decide() against a raw baseline measured in the same run (a bare
dict lookup of the grant and a time comparison: the least any decision must do), and p50/p99 latency
with decisions paced at --rate per second for --seconds. The view's memory is the process's resident set
(VmRSS) grown while the view was built and indexed as the worker keeps it (`AccessView.put`), garbage collected.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import bson
from bson.codec_options import CodecOptions

from bench.common import bench_line, percentile, rounded
from services.access.domain import state as ev
from services.access.domain.decisions import Action, Actor, PatientAccess, decide
from services.access.domain.grants import GrantKind
from services.access.service.view import AccessView
from services.access.store import Store, decode_access, encode_access

T0 = datetime(2026, 11, 22, tzinfo=UTC)
CODEC: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True)


def build(patients: int, grants: int, rng: random.Random,
          t0: datetime = T0) -> tuple[dict[str, PatientAccess], list[str]]:
    """`grants` grants over `patients` patients, each given at some minute of the 30 days from `t0`."""
    view = {f"P{i:07d}": PatientAccess() for i in range(patients)}
    keys, pros = list(view), [f"PRO-{i}" for i in range(20_000)]
    for n in range(grants):
        access, pro = view[keys[n % patients]], rng.choice(pros)
        at = t0 + timedelta(minutes=rng.randrange(60 * 24 * 30))
        kind = rng.random()
        event = (ev.CircleMemberAdded(pro, at, rng.choice([None, 30, 365])) if kind < 0.7
                 else ev.GrantGiven(GrantKind.PRESENCE if kind < 0.95 else GrantKind.EMERGENCY, pro, at))
        ev.apply(access, event)
        if n % 50 == 0:
            ev.apply(access, ev.ProfessionalBlocked(rng.choice(pros), at))
            ev.apply(access, ev.DocumentBlocked(f"doc-{rng.randrange(10)}", at))
    return view, pros


def rss_mib() -> float:
    """This process's resident set size (VmRSS), in MiB."""
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def loaded_mib(view: dict[str, PatientAccess]) -> float:
    """The memory of `view` as the worker holds it: loaded from stored (BSON) documents — its own strings and
    times, as pymongo decodes them — and indexed (`AccessView.put`); the process's RSS grown, garbage collected."""
    stored = [bson.encode({"_id": p, "access": encode_access(a)}) for p, a in view.items()]
    gc.collect()
    before, worker = rss_mib(), AccessView(cast(Store, None))
    for raw in stored:
        doc = bson.decode(raw, CODEC)
        worker.put(doc["_id"], 1, decode_access(doc["access"]))
    gc.collect()
    return rss_mib() - before


def queries(view: dict[str, PatientAccess], pros: list[str], n: int, rng: random.Random) -> list[tuple[str, str, str]]:
    keys = list(view)
    out = []
    for _ in range(n):
        patient = rng.choice(keys)
        holders = [g.professional_id for g in view[patient].grants.values()]
        pro = rng.choice(holders) if holders and rng.random() < 0.7 else rng.choice(pros)
        out.append((patient, pro, f"doc-{rng.randrange(10)}"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--grants", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    rng = random.Random(11)
    started = time.perf_counter()
    view, pros = build(args.patients, args.grants, rng)
    print(f"view built: {args.patients} patients, {args.grants} grants in {time.perf_counter() - started:.1f}s")
    view_mib = loaded_mib(view)
    print(f"view loaded as the worker loads it: resident memory {view_mib:,.0f} MiB "
          f"({view_mib * 2**20 / args.grants:,.0f} bytes a grant; goal < 1 GiB for 1,000,000 grants)")
    qs = queries(view, pros, 200_000, rng)
    now = T0 + timedelta(days=31)

    t = time.perf_counter()
    for patient, pro, _ in qs:  # baseline: look the grant up, compare a time
        grant = view[patient].grants.get((GrantKind.CIRCLE, pro))
        _ = grant is not None and (grant.ends_at is None or now < grant.ends_at)
    baseline = len(qs) / (time.perf_counter() - t)
    t = time.perf_counter()
    allowed = sum(decide(view[p], Actor("professional", pro), Action.READ, p, now, document=d).allowed
                  for p, pro, d in qs)
    rate = len(qs) / (time.perf_counter() - t)

    latencies, interval, deadline = [], 1 / args.rate, time.perf_counter() + args.seconds
    next_at = time.perf_counter()
    for patient, pro, doc in qs * (1 + int(args.rate * args.seconds) // len(qs)):
        if time.perf_counter() >= deadline:
            break
        while time.perf_counter() < next_at:
            pass
        t = time.perf_counter()
        decide(view[patient], Actor("professional", pro), Action.READ, patient, now, document=doc)
        latencies.append((time.perf_counter() - t) * 1000)
        next_at += interval
    print(f"baseline (grant lookup)   {baseline:>12,.0f} decisions/s")
    print(f"decide()                  {rate:>12,.0f} decisions/s   ratio {rate / baseline:.2f}   "
          f"({allowed / len(qs):.0%} allowed)")
    print(f"paced at {args.rate:.0f}/s for {args.seconds:.0f}s: p50 {percentile(latencies, 50) * 1000:.1f} us   "
          f"p99 {percentile(latencies, 99) * 1000:.1f} us   (n={len(latencies)}; goal p99 < 5 ms)")
    print(bench_line("access-decide", patients=args.patients, grants=args.grants, view_rss_mib=round(view_mib),
                     decisions_per_s=round(rate),
                     baseline_per_s=round(baseline), ratio=round(rate / baseline, 3), paced_per_s=args.rate,
                     latency_us=rounded([v * 1000 for v in latencies], 1)))


if __name__ == "__main__":
    main()
