"""python -m bench.portal [--sessions 200] [--results 5] [--rates 25,50,100,200,400] [--seconds 10] [--visits 20]

The portal under a crowd (issue 29): the mesh's workers and gateway as their own processes on the bench's own
Kafka and FerretDB (`bench.mesh`); --sessions patients announced by the registry, activated and logged in through
the real flow at the gateway, their sessions kept (`bench.people`); --results signed lab results each, stored by
records, a notification each filed by notify. Then a patient's visit — home, the documents list, a document with
its values, the timeline (Ligne de vie), Traçabilité, the notifications: the portal's HTML pages at the gateway's
root, with her session cookie — the visits of every patient in turn, sent open-loop by vegeta (a native load
generator) at each rate of --rates page views per second for --seconds; latency from each request's scheduled
time. Per rate and page, p50/p99; the knee: the highest rate with every page's p99 < 300 ms. Where the time goes:
at no load, one visit per patient for --visits patients through an instrumented gateway (`bench.portal.profile`:
each service call, the gateway's own time, then its hottest functions under cProfile); under load, each
process's CPU per page view (from /proc).
A rate whose pages are served at under 80% of the offered rate ends the climb (the next would only queue).
The last line is `BENCH {json}`."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

from bench.access.phases import cpu_s
from bench.common import Endpoints, bench_line, infrastructure
from infra.tools import VEGETA

from . import load, people, profile
from .figures import LIMIT_MS, PAGES, knee, per_page
from .mesh import SERVICES, Mesh

VISIT = ("home", "documents", "document", "timeline", "traceability", "notifications")


def visit(base: str, patient: people.Patient) -> list[str]:
    """A patient's visit: the pages' URLs, in the order she opens them."""
    path = {name: path for path, name in PAGES.items()}
    return [f"{base}{path[p]}" if p != "document" else f"{base}/documents/{patient.document}" for p in VISIT]


async def run(args: argparse.Namespace, ends: Endpoints, tmp: Path) -> dict[str, Any]:
    mesh, loop = Mesh(ends, tmp), asyncio.get_running_loop()
    t0 = loop.time()
    try:
        await mesh.start()
        print(f"workers and gateway ready in {loop.time() - t0:.0f} s", flush=True)
        t0 = loop.time()
        sessions = await people.crowd(mesh.url("gateway"), ends.bootstrap, mesh.seal_private, args.sessions)
        print(f"{len(sessions)} patients activated and logged in through the gateway in {loop.time() - t0:.0f} s",
              flush=True)
        t0 = loop.time()
        published = await people.results(ends.bootstrap, list(sessions), args.results, people.now())
        crowd = await people.stored(mesh.url("gateway"), sessions, args.results)
        print(f"{published} lab results stored and notified in {loop.time() - t0:.0f} s", flush=True)
        shown = crowd[: args.visits]
        print(f"profiling {len(shown)} visits through an instrumented gateway", flush=True)
        split, hottest = await profile.visits(mesh, [visit("", p) for p in shown], [p.session for p in shown])
        base = mesh.url("gateway")
        targets = [(url, {"Cookie": f"dsp_session={p.session}"}) for p in crowd for url in visit(base, p)]
        await asyncio.to_thread(load.attack, targets[:120], 20, 6, tmp, "warm-up")
        pids = {name: mesh.procs[name].pid for name in SERVICES}
        rates: list[dict[str, Any]] = []
        for rate in args.rates:
            before = {name: cpu_s(pid) for name, pid in pids.items()}
            got = await asyncio.to_thread(load.attack, targets, rate, args.seconds, tmp, f"rate-{rate:g}")
            cpu = {name: round((cpu_s(pid) - before[name]) * 1000 / got.sent, 2) for name, pid in pids.items()}
            rates.append({"offered_per_s": rate, "served_per_s": round(got.served_per_s, 1), "sent": got.sent,
                          "unanswered": sum(got.errors.values()), "errors": got.errors,
                          "pages": per_page(got.answers), "cpu_ms_per_page": cpu})
            show(rates[-1])
            if got.served_per_s < 0.8 * rate:
                print(f"  served under 80% of {rate:g}/s: the higher rates would only queue; stopped here", flush=True)
                break
        return {"rates": rates, "profile": split, "hot": hottest}
    except Exception:
        for name in SERVICES:
            print(f"--- {name}'s log, last lines:\n{mesh.log(name)}", flush=True)
        raise
    finally:
        mesh.stop()


def show(rate: dict[str, Any]) -> None:
    print(f"offered {rate['offered_per_s']:>5g}/s   served {rate['served_per_s']:>7.1f}/s   "
          f"no answer or 5xx {rate['unanswered']}" + (f" {rate['errors']}" if rate["errors"] else ""), flush=True)
    for page in VISIT:
        f = rate["pages"].get(page)
        if f:
            print(f"    {page:<14} p50 {f['p50']:>8.1f} ms   p99 {f['p99']:>8.1f} ms   (n={f['n']})", flush=True)
    print("    CPU per page view (ms): " + ", ".join(f"{k} {v:g}" for k, v in rate["cpu_ms_per_page"].items()),
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--results", type=int, default=5, help="lab results per patient")
    parser.add_argument("--rates", type=lambda s: [float(r) for r in s.split(",")], default=[25, 50, 100, 200, 400])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--visits", type=int, default=20, help="visits replayed through the instrumented gateway")
    args = parser.parse_args()
    with infrastructure() as ends, tempfile.TemporaryDirectory(prefix="dsp-bench-portal-") as tmp:
        out = asyncio.run(run(args, ends, Path(tmp)))
    found = knee(out["rates"], VISIT)
    print(f"knee (highest rate with every page's p99 < {LIMIT_MS:g} ms): {found:g} page views/s "
          f"with {args.sessions} sessions   goal: >= 200/s")
    print("where one page's time goes at no load (median of "
          f"{args.visits} visits, ms; gateway_own = the page's time minus its calls):")
    for page in VISIT:
        parts = out["profile"].get(page, {})
        print(f"    {page:<14} " + "   ".join(f"{k} {v:g}" for k, v in sorted(parts.items(), key=lambda kv: -kv[1])))
    print("the instrumented gateway's hottest functions at no load (cProfile, own CPU per page view, ms):")
    for row in out["hot"]:
        print(f"    {row['own_ms']:>7.3f}  (cumulative {row['cumulative_ms']:>7.3f}, {row['calls']:g} calls)  "
              f"{row['function']}")
    at_knee = next((r for r in out["rates"] if r["offered_per_s"] == found), out["rates"][0])
    print(bench_line("portal", generator=f"vegeta {VEGETA.version}", sessions=args.sessions,
                     results_per_patient=args.results, seconds_per_rate=args.seconds, knee_per_s=found,
                     limit_p99_ms=LIMIT_MS, gateway_hot_no_load=out["hot"],
                     pages={page: {"p50_ms": at_knee["pages"].get(page, {}).get("p50"),
                                   "p99_ms": at_knee["pages"].get(page, {}).get("p99"),
                                   "at_per_s": at_knee["offered_per_s"],
                                   "no_load_split_ms": out["profile"].get(page, {})} for page in VISIT},
                     rates=[{k: v for k, v in r.items() if k != "errors"} for r in out["rates"]]))


if __name__ == "__main__":
    main()
