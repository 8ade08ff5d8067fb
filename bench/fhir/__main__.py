"""python -m bench.fhir [--documents 1000] [--searches 2000] [--per-patient 10] [--door-only]
                       [--export-documents 1000] [--docs 200000] [--patients 20000] [--rate 100] [--seconds 20]

The FHIR door (issue 26): a patient's whole DSP exported in < 2 s with 1,000 documents; a `DocumentReference`
search p99 < 50 ms at 100 searches/s on 200,000 documents. Two parts, one run:

1. the door alone, in this process (`bench.fhir.door`): the export's FHIR and JSON, and the search's read path
   over in-memory doubles of access and records — what the gateway itself adds;
2. on the real mesh (`bench.fhir.mesh`): a gateway, records, access and activation worker on a fresh local Kafka +
   FerretDB — `GET /v1/me/export` by a logged-in patient over HTTP, and DocumentReference searches by a practice's
   software (SMART bearer token) sent open loop by vegeta, with the gateway's `GET /health/live` as the baseline.

The last line is `BENCH {json}`.
"""

from __future__ import annotations

import argparse
import asyncio

from bench.common import bench_line, infrastructure, percentile, rounded
from bench.fhir import door, mesh
from infra.tools import VEGETA


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fhir", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1000, help="door only: the exported documents")
    parser.add_argument("--searches", type=int, default=2000, help="door only: searches, one after the other")
    parser.add_argument("--per-patient", type=int, default=10, help="door only: documents per searched patient")
    parser.add_argument("--door-only", action="store_true", help="skip the real mesh (no Kafka, no database)")
    parser.add_argument("--export-documents", type=int, default=1000, help="mesh: the exporting patient's")
    parser.add_argument("--reads-per-document", type=int, default=3, help="mesh: her Traçabilité, per document")
    parser.add_argument("--export-runs", type=int, default=3)
    parser.add_argument("--docs", type=int, default=200_000, help="mesh: documents over the searched patients")
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=100.0, help="mesh: searches per second, offered")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    exported = door.bench_export(args.documents)
    print(f"door only: export of {exported['documents']} documents: {exported['resources']} resources, "
          f"{exported['bytes'] / 1e6:.1f} MB, {exported['seconds_best']} s (worst of 3: {exported['seconds_worst']} s)")
    searched = asyncio.run(door.bench_search(args.searches, args.per_patient))
    print(f"door only: DocumentReference search p50 {searched['ms']['p50']} ms, p99 {searched['ms']['p99']} ms, "
          f"{searched['per_second_one_core']}/s on one core", flush=True)
    if args.door_only:
        print(bench_line("fhir", door={"export": exported, "search": searched}))
        return
    with infrastructure() as ends:
        out = asyncio.run(mesh.run(args, ends))
    real, baseline, served = out["export"], out["baseline"], out["served"]
    b_lat, s_lat = baseline.latencies_ms, served.latencies_ms
    print(f"\nmesh: export of {real['documents']:,} documents ({real['versions']:,} versions, "
          f"{real['audit_entries']:,} audit entries): best {real['seconds_best']} s, worst {real['seconds_worst']} s "
          f"of {len(real['seconds'])}   goal < 2 s")
    for name, run_, lat in (("baseline GET /health/live", baseline, b_lat), ("DocumentReference search", served,
                                                                             s_lat)):
        print(f"mesh: {name:<26} {run_.served_per_s:>7,.1f}/s offered {args.rate:.0f}/s   "
              f"p50 {percentile(lat, 50):>7.2f} ms   p99 {percentile(lat, 99):>7.2f} ms   (n={len(lat)} of "
              f"{run_.sent}{', no answer: ' + str(run_.errors) if run_.errors else ''})")
    print(f"goal: search p99 < 50 ms at {args.rate:.0f}/s on {args.docs:,} documents")
    for name, split in (("export", real["cpu_ms_per_export"]), ("search", out["search_cpu_ms"])):
        print(f"mesh: CPU ms per {name}: " + ", ".join(f"{role} {ms}" for role, ms in split.items()))
    print(bench_line("fhir", export_s=real["seconds_best"], export=real,
                     search={"generator": f"vegeta {VEGETA.version}", "documents": args.docs,
                             "patients": args.patients, "offered_per_s": args.rate, "seconds": args.seconds,
                             "served_per_s": round(served.served_per_s, 1), "latency_ms": rounded(s_lat),
                             "unanswered": sum(served.errors.values()), "cpu_ms_per_search": out["search_cpu_ms"],
                             "baseline_latency_ms": rounded(b_lat),
                             "baseline_served_per_s": round(baseline.served_per_s, 1)},
                     door={"export": exported, "search": searched}))


if __name__ == "__main__":
    main()
