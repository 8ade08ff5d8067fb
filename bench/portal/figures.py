"""The portal bench's pure parts: per-page percentiles of one rate's answers, the knee over the rates, and one
visit's time split (the gateway's own time = the page's time - its calls to the services)."""

from __future__ import annotations

import pstats
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bench.common import percentile

LIMIT_MS = 300.0  # a page whose p99 is above this is too slow (issue 29)


def per_page(answers: Iterable[tuple[str, float]]) -> dict[str, dict[str, float]]:
    """(page, latency ms) pairs -> per page {p50, p99, n}, rounded to 0.1 ms."""
    by_page: dict[str, list[float]] = defaultdict(list)
    for page, ms in answers:
        by_page[page].append(ms)
    return {page: {"p50": round(percentile(ms, 50), 1), "p99": round(percentile(ms, 99), 1), "n": len(ms)}
            for page, ms in by_page.items()}


def holds(rate: Mapping[str, Any], pages: Sequence[str], limit_ms: float = LIMIT_MS) -> bool:
    """A rate holds when every page was answered (none unanswered, none missing) with its p99 under the limit."""
    figures = rate["pages"]
    return not rate.get("unanswered") and all(page in figures and figures[page]["p99"] < limit_ms
                                               for page in pages)


def knee(rates: Sequence[Mapping[str, Any]], pages: Sequence[str], limit_ms: float = LIMIT_MS) -> float:
    """The highest offered rate that holds, among the rates up to the first that does not (a rate that holds
    again above a failed one is luck, not capacity); 0 if the lowest already fails."""
    best = 0.0
    for rate in sorted(rates, key=lambda r: r["offered_per_s"]):
        if not holds(rate, pages, limit_ms):
            break
        best = float(rate["offered_per_s"])
    return best


def split(page_ms: float, calls: Sequence[tuple[str, float]]) -> dict[str, float]:
    """One page's time: each service call's (summed per call name, in ms), and the gateway's own (the rest)."""
    out: dict[str, float] = defaultdict(float)
    for name, ms in calls:
        out[name] += ms
    return {**{k: round(v, 2) for k, v in out.items()}, "gateway_own": round(page_ms - sum(ms for _, ms in calls), 2)}


def median_split(splits: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The median of each part over several visits (a part missing from a visit counts as 0 there)."""
    names = sorted({k for s in splits for k in s})
    return {k: round(percentile([s.get(k, 0.0) for s in splits], 50), 2) for k in names}


def hot(profile: Any, views: int, top: int = 15) -> list[dict[str, Any]]:
    """A cProfile.Profile's functions with the most own time (tottime), per page view (ms), with their calls per
    page view and the cumulative time (ms); files shortened to their package path. The event loop's wait for its
    sockets (`select`'s poll: the services' time, not the gateway's CPU) is left out."""
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    working = {k: v for k, v in stats.items() if not (k[0] == "~" and "poll' of 'select." in k[2])}
    rows = sorted(working.items(), key=lambda kv: -kv[1][2])[:top]
    out = []
    for (file, line, name), (_calls, ncalls, tottime, cumtime, _callers) in rows:
        short = file.split("site-packages/")[-1].split("/work/")[-1]
        out.append({"function": f"{short}:{line}({name})", "own_ms": round(tottime * 1000 / views, 3),
                    "cumulative_ms": round(cumtime * 1000 / views, 3), "calls": round(ncalls / views, 1)})
    return out


PAGES = {"/home": "home", "/documents": "documents", "/timeline": "timeline", "/audit": "traceability",
         "/notifications": "notifications"}


def page_of(url: str) -> str:
    """The visit's page an URL of it names: `/documents/<id>` is the document with its values."""
    path = "/" + url.split("://", 1)[-1].partition("/")[2].partition("?")[0]
    if path in PAGES:
        return PAGES[path]
    return "document" if path.startswith("/documents/") else path
