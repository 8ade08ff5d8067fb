"""Vegeta as the benchmarks' HTTP load generator (access's, the portal's, FHIR's): a native (Go) open-loop
generator, so that sending the requests does not take the CPU the worker under test needs (the two share the
machine's cores). Built once through the Go module proxy into the project cache by `infra.tools`
(`python -m infra.tools vegeta`). One attack and one reader of its results serve every bench.

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
    answers: list[tuple[str, float]]  # (url, ms from the request's scheduled time to its answer), 200s only
    errors: dict[str, int]  # no answer (a reset or a timeout) by vegeta's error; a 5xx as "HTTP 503" where counted

    @property
    def latencies_ms(self) -> list[float]:
        return [ms for _url, ms in self.answers]


def binary() -> Path:
    return install(VEGETA)


def attack(targets: list[Target], rate: float, seconds: float, workdir: Path, name: str, *,
           follow_redirects: bool = True, max_body: int | None = None, server_errors: bool = False) -> Run:
    """Send `targets` round-robin at `rate`/s for `seconds`; every answer must be a 200 (no answer at all, e.g. a
    connection reset under overload, is counted as an error; with `server_errors`, so is a 5xx). Not following
    redirects, a 302 is an answer (which stops the bench: see `parse`); `max_body`: bytes of each answer kept (the
    rest is read and discarded, so still timed)."""
    vegeta = binary()
    target_file, results = workdir / f"{name}.targets", workdir / f"{name}.bin"
    with target_file.open("w") as out:
        for t in targets:
            out.write(json.dumps({"method": t.method, "url": t.url, "header": {k: [v] for k, v in t.headers.items()},
                                  "body": base64.b64encode(t.body).decode()}) + "\n")
    subprocess.run([vegeta, "attack", "-format=json", f"-targets={target_file}", f"-rate={rate:.0f}/1s",  # noqa: S603
                    f"-duration={seconds}s", f"-workers={WORKERS}", f"-max-workers={MAX_WORKERS}", "-timeout=30s",
                    "-http2=false", *([] if follow_redirects else ["-redirects=-1"]),
                    *([] if max_body is None else [f"-max-body={max_body}"]), f"-name={name}", f"-output={results}"],
                   check=True)
    encoded = subprocess.run([vegeta, "encode", "--to", "csv", str(results)],  # noqa: S603
                             check=True, capture_output=True, text=True).stdout
    return parse(list(csv.reader(encoded.splitlines())), rate, name, server_errors=server_errors)


def parse(rows: list[list[str]], rate: float, name: str = "attack", *, server_errors: bool = False) -> Run:
    """A run from vegeta's CSV results (`vegeta encode --to csv`: timestamp ns, HTTP code, latency ns, bytes out,
    bytes in, error, base64 body, attack name, sequence number, method, url, headers), paced at `rate`/s. Code 0
    (no answer at all) is an error by its cause, and with `server_errors` a 5xx (a service overloaded) is one too,
    as "HTTP 503"; anything else but a 200 (a 401, a redirect to a login page: the bench's own fault) stops the
    bench with the answer. Latency runs from each request's scheduled time (start + seq/rate), the start being when
    request 0 was due."""
    if not rows:
        raise RuntimeError(f"vegeta sent no request ({name})")
    for row in rows:
        if row[1] not in ("200", "0") and not (server_errors and row[1].startswith("5")):
            raise RuntimeError(f"{name}: {row[10]} HTTP {row[1]} {row[5]} {base64.b64decode(row[6])[:200]!r}")
    errors = Counter(row[5].rpartition(": ")[2] if row[1] == "0" else f"HTTP {row[1]}"
                     for row in rows if row[1] != "200")
    start = min(int(row[0]) - int(row[8]) * 1e9 / rate for row in rows)  # when request 0 was due
    answers = [(row[10], (int(row[0]) + int(row[2]) - (start + int(row[8]) * 1e9 / rate)) / 1e6)
               for row in rows if row[1] == "200"]
    last = max(int(row[0]) + int(row[2]) for row in rows)
    return Run(len(rows), len(answers) / ((last - start) / 1e9), answers, dict(errors))
