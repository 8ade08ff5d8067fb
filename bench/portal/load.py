"""The visit's pages sent open-loop by vegeta (`bench.vegeta`), each answer's latency from its *scheduled* time
(start + seq/rate), grouped by page. Redirects are not followed: a page that sends the browser to /login (a lost
session) is a 302, which stops the bench — only the page itself, a 200, counts; a 5xx (the mesh unable to answer in
time: a service call over its 5 s timeout is a 503 page) is counted with the unanswered, and fails its rate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench import vegeta

from .figures import page_of

KEPT_BODY = 512  # bytes of each answer vegeta keeps (the rest is read and discarded, so still timed)


@dataclass(frozen=True)
class Rate:
    offered_per_s: float
    sent: int
    served_per_s: float
    answers: list[tuple[str, float]]  # (page, ms from its scheduled time), 200s only
    errors: dict[str, int]  # no answer at all (a reset, a timeout), by vegeta's error, and 5xx answers


def pages(run: vegeta.Run, rate: float) -> Rate:
    """A run's answers by page (from each answer's URL)."""
    return Rate(rate, run.sent, run.served_per_s, [(page_of(url), ms) for url, ms in run.answers], run.errors)


def attack(targets: list[tuple[str, dict[str, str]]], rate: float, seconds: float, workdir: Path,
           name: str) -> Rate:
    """GET each (url, headers) of `targets` in turn at `rate`/s for `seconds`."""
    run = vegeta.attack([vegeta.Target("GET", url, headers) for url, headers in targets], rate, seconds, workdir,
                        name, follow_redirects=False, max_body=KEPT_BODY, server_errors=True)
    return pages(run, rate)
