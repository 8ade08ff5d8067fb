"""Vegeta as the benchmark's load generator: a native (Go) open-loop generator, so that sending the requests does
not take the CPU the worker under test needs (the two share the machine's cores). Built once through the Go
module proxy into the project cache by `infra.tools` (`python -m infra.tools vegeta`).

Open loop: vegeta's pacer fires request i at start + i/rate whatever the answers do, handing it to an idle worker
or starting a new one (up to `MAX_WORKERS`), so a slow answer never delays the next request. Vegeta times each
request from when it is sent; the latency reported here runs from the request's *scheduled* time (start + seq/rate,
from vegeta's per-request timestamps and sequence numbers), so time spent waiting to be sent counts as well.
"""

from __future__ import annotations

import base64
import csv
import json
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from infra.tools import VEGETA, install

WORKERS, MAX_WORKERS = 64, 4096


@dataclass(frozen=True)
class Target:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class Run:
    sent: int
    served_per_s: float  # answers per second, from the first scheduled request to the last answer
    latencies_ms: list[float]  # from each request's scheduled time to its answer (200s only)
    errors: dict[str, int]  # no answer (a reset or a timeout), by vegeta's error


def binary() -> Path:
    return install(VEGETA)


def attack(targets: list[Target], rate: float, seconds: float, workdir: Path, name: str) -> Run:
    """Send `targets` round-robin at `rate`/s for `seconds`; every answer must be a 200 (no answer at all, e.g. a
    connection reset under overload, is counted as an error)."""
    vegeta = binary()
    target_file, results = workdir / f"{name}.targets", workdir / f"{name}.bin"
    with target_file.open("w") as out:
        for t in targets:
            out.write(json.dumps({"method": t.method, "url": t.url, "header": {k: [v] for k, v in t.headers.items()},
                                  "body": base64.b64encode(t.body).decode()}) + "\n")
    subprocess.run([vegeta, "attack", "-format=json", f"-targets={target_file}", f"-rate={rate:.0f}/1s",  # noqa: S603
                    f"-duration={seconds}s", f"-workers={WORKERS}", f"-max-workers={MAX_WORKERS}", "-timeout=30s",
                    "-http2=false", f"-name={name}", f"-output={results}"], check=True)
    encoded = subprocess.run([vegeta, "encode", "--to", "csv", str(results)],  # noqa: S603
                             check=True, capture_output=True, text=True).stdout
    return parse(list(csv.reader(encoded.splitlines())), rate, name)


def parse(rows: list[list[str]], rate: float, name: str = "attack") -> Run:
    """A run from vegeta's CSV results (`vegeta encode --to csv`: timestamp ns, HTTP code, latency ns, bytes out,
    bytes in, error, base64 body, attack name, sequence number, ...), paced at `rate`/s: every answer must be a 200
    (code 0, no answer at all, is counted as an error); latency runs from each request's scheduled time."""
    if not rows:
        raise RuntimeError(f"vegeta sent no request ({name})")
    for row in rows:
        if row[1] not in ("200", "0"):
            raise RuntimeError(f"{name}: HTTP {row[1]} {row[5]} {base64.b64decode(row[6])[:200]!r}")
    errors = Counter(row[5].rpartition(": ")[2] for row in rows if row[1] == "0")
    start = min(int(row[0]) - int(row[8]) * 1e9 / rate for row in rows)  # when request 0 was due
    ok = [row for row in rows if row[1] == "200"]
    latencies = [(int(row[0]) + int(row[2]) - (start + int(row[8]) * 1e9 / rate)) / 1e6 for row in ok]
    last = max(int(row[0]) + int(row[2]) for row in rows)
    return Run(len(rows), len(ok) / ((last - start) / 1e9), latencies, dict(errors))
