"""python -m bench.search [--docs 200000] [--patients 20000] [--searches 2000] [--burst 20] [--before 1]

A patient's keyword search, as the portal asks for it: `POST /v1/documents {patient, q}` on a real records
worker (over HTTP, with the gateway's service token), in a database holding --docs lab results over --patients
patients (stored directly, as the worker stores them: documents and their list entries).

- sequential: --searches searches one after the other (each one's latency alone), words from the patient's
  own documents or not (a search finding nothing costs the same);
- burst: the same searches with --burst in flight at once (a Monday morning);
- raw baseline, same run, same database: the patient's list entries read by their `_id` prefix range — the
  one read a search needs, without HTTP, auth, parsing, filtering or answer;
- before: --before searches (default 1) as the secondary-field query the index replaced (FerretDB scans).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from bench.common import Endpoints, bench_line, infrastructure, percentile, rounded
from bench.ingest.__main__ import RecordsWorker
from bench.seeding import documents, numbered_matricule, seed
from services.kit.servicetokens import Signer, new_key
from services.records.domain import documents as domain
from services.records.domain import listing

GATEWAY_KEY, GATEWAY_PUBLIC = new_key()
SIGNER = Signer("gateway", GATEWAY_KEY)
WORDS = ["hemoglobine", "glycemie", "cholesterol", "bilan lipidique", "hemogramme", "creatinine", "scanner",
         "ferritine", "tsh", "bionext"]


async def timed(calls: list[Any], concurrency: int) -> tuple[float, list[float]]:
    """Run the calls `concurrency` at a time; (calls per second, latency of each in ms)."""
    latencies: list[float] = []
    queue = list(reversed(calls))

    async def worker() -> None:
        while queue:
            call = queue.pop()
            started = time.perf_counter()
            await call()
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(calls) / (time.perf_counter() - started), latencies


async def run(args: argparse.Namespace, ends: Endpoints, log: Path) -> dict[str, Any]:
    rng = random.Random(11)
    people = [numbered_matricule(i) for i in range(args.patients)]
    started = time.perf_counter()
    docs = documents(args.docs, people, rng)
    worker = RecordsWorker(ends, log)
    worker.env["DSP_SERVICE_PUBLIC_KEYS"] = f"gateway={GATEWAY_PUBLIC}"
    await seed(ends.mongo_uri, worker.prefix, docs)
    print(f"seeded {args.docs:,} documents over {args.patients:,} patients in {time.perf_counter() - started:.0f}s")
    del docs
    asks = [(rng.choice(people), rng.choice(WORDS)) for _ in range(args.searches)]
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(ends.mongo_uri, tz_aware=True)
    db = client[f"{worker.prefix}_records"]
    worker.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{worker.port}", timeout=120,
                                     limits=httpx.Limits(max_connections=args.burst)) as http:
            found = 0

            def search(patient: str, q: str) -> Any:
                async def call() -> None:
                    nonlocal found
                    answer = await http.post("/v1/documents", json={"patient": patient, "q": q, "viewer": "patient"},
                                             headers={"Authorization": f"Bearer {SIGNER.token('records')}"})
                    answer.raise_for_status()
                    found += len(answer.json()["items"])
                return call

            def lookup(patient: str) -> Any:
                async def call() -> None:
                    await db["patient_documents"].find({"_id": listing.prefix_range(patient)}).to_list(None)
                return call

            await timed([search(p, q) for p, q in asks[:100]], 4)  # warm-up
            seq_rate, seq = await timed([search(p, q) for p, q in asks], 1)
            burst_rate, burst = await timed([search(p, q) for p, q in asks], args.burst)
            base_rate, base = await timed([lookup(p) for p, _ in asks], 1)
            before = []
            for patient, q in asks[:args.before]:
                t = time.perf_counter()
                await db["documents"].find({"patient_matricule": patient, "status": "active",
                                            "tokens": {"$all": domain.tokens(q)}}, {"versions": 0}).to_list(20)
                before.append((time.perf_counter() - t) * 1000)
    finally:
        worker.stop()
        await client.close()
    return {"seq": (seq_rate, seq), "burst": (burst_rate, burst), "base": (base_rate, base), "before": before,
            "found_per_search": found / (2 * len(asks))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--searches", type=int, default=2_000)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--before", type=int, default=1, help="searches run the old way (each scans everything)")
    args = parser.parse_args()
    log = Path(tempfile.gettempdir()) / "dsp-bench-search.log"
    with infrastructure() as ends:
        out = asyncio.run(run(args, ends, log))
    print(f"\nbench/search: {args.docs:,} documents, {args.patients:,} patients, {args.searches:,} searches")
    for name, key in (("raw baseline: _id range read", "base"), ("search, one at a time", "seq"),
                      (f"search, {args.burst} in flight", "burst")):
        rate, lat = out[key]
        print(f"{name:<30} {rate:>8,.0f}/s   p50 {percentile(lat, 50):>7.2f} ms   p99 {percentile(lat, 99):>7.2f} ms")
    print(f"before (secondary-field query, scanned): {', '.join(f'{t:,.0f} ms' for t in out['before'])}")
    print(f"documents found per search: {out['found_per_search']:.2f}   goal: search p99 < 50 ms")
    seq, base = out["seq"][1], out["base"][1]
    print(bench_line("search", documents=args.docs, patients=args.patients, searches=args.searches,
                     search_latency_ms=rounded(seq), burst=args.burst, burst_latency_ms=rounded(out["burst"][1]),
                     burst_per_s=round(out["burst"][0]), baseline_latency_ms=rounded(base),
                     ratio_p99=round(percentile(base, 99) / percentile(seq, 99), 3),
                     before_scan_ms=[round(t) for t in out["before"]]))


if __name__ == "__main__":
    main()
