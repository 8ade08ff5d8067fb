"""The visit's pages sent open-loop by vegeta (`bench.access.vegeta`'s binary, built once through the Go module
proxy), each answer's latency from its *scheduled* time (start + seq/rate), grouped by page. Redirects are not
followed: a page that sends the browser to /login (a lost session) is a 302, which stops the bench — only the page
itself, a 200, counts; a 5xx (the mesh overloaded) is counted with the unanswered, and fails its rate."""

from __future__ import annotations

import base64
import csv
import json
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.access import vegeta

from .figures import page_of

KEPT_BODY = 512  # bytes of each answer vegeta keeps (the rest is read and discarded, so still timed)


@dataclass(frozen=True)
class Rate:
    offered_per_s: float
    sent: int
    served_per_s: float
    answers: list[tuple[str, float]]  # (page, ms from its scheduled time), 200s only
    errors: dict[str, int]  # no answer at all (a reset, a timeout), by vegeta's error, and 5xx answers


def refused(rows: list[list[str]], name: str) -> dict[str, int]:
    """vegeta's CSV rows that are not a page, by kind: no answer (a reset, a timeout: vegeta's error) and a 5xx
    (the mesh unable to answer in time: a service call over its 5 s timeout is a 503 page) — a rate with any fails.
    Anything else but a 200 (a redirect to the login page: a lost session; a 4xx) is the bench's own fault: it
    stops."""
    for row in rows:
        if row[1] != "200" and row[1] != "0" and not row[1].startswith("5"):
            raise RuntimeError(f"{name}: {row[10]} HTTP {row[1]} {row[5]} {base64.b64decode(row[6])[:200]!r}")
    return dict(Counter(row[5].rpartition(": ")[2] if row[1] == "0" else f"HTTP {row[1]}"
                        for row in rows if row[1] != "200"))


def attack(targets: list[tuple[str, dict[str, str]]], rate: float, seconds: float, workdir: Path,
           name: str) -> Rate:
    """GET each (url, headers) of `targets` in turn at `rate`/s for `seconds`."""
    binary = vegeta.binary()
    target_file, results = workdir / f"{name}.targets", workdir / f"{name}.bin"
    with target_file.open("w") as out:
        for url, headers in targets:
            out.write(json.dumps({"method": "GET", "url": url, "header": {k: [v] for k, v in headers.items()}}) + "\n")
    subprocess.run([binary, "attack", "-format=json", f"-targets={target_file}", f"-rate={rate:.0f}/1s",  # noqa: S603
                    f"-duration={seconds}s", f"-workers={vegeta.WORKERS}", f"-max-workers={vegeta.MAX_WORKERS}",
                    "-timeout=30s", "-http2=false", "-redirects=-1", f"-max-body={KEPT_BODY}", f"-name={name}",
                    f"-output={results}"], check=True)
    encoded = subprocess.run([binary, "encode", "--to", "csv", str(results)],  # noqa: S603
                             check=True, capture_output=True, text=True).stdout
    rows = list(csv.reader(encoded.splitlines()))
    if not rows:
        raise RuntimeError(f"vegeta sent no request ({name})")
    errors = refused(rows, name)
    start = min(int(row[0]) - int(row[8]) * 1e9 / rate for row in rows)  # when request 0 was due
    answers = [(page_of(row[10]), (int(row[0]) + int(row[2]) - (start + int(row[8]) * 1e9 / rate)) / 1e6)
               for row in rows if row[1] == "200"]
    last = max(int(row[0]) + int(row[2]) for row in rows)
    return Rate(rate, len(rows), len(answers) / ((last - start) / 1e9), answers, errors)
