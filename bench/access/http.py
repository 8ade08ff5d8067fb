"""python -m bench.access.http [--patients 20000] [--grants 200000] [--rate 2000] [--seconds 5]

Decisions as the gateway asks for them: `POST /v1/decisions` on a real access worker (its view loaded from a
MongoDB snapshot of --patients patients holding --grants grants; every professional's decision audited in
the hash chain before the answer). Requests are sent open-loop at --rate per second for --seconds (latency is
measured from each request's scheduled time, so queueing counts). The raw baseline, in the same run, is the
same worker answering `GET /health/live` at the same rate: HTTP and the event loop, no decision, no audit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient
from stdnum import luhn, verhoeff

from bench.access.__main__ import T0, build, queries
from bench.common import Endpoints, bench_line, infrastructure, percentile, rounded
from infra.procs import free_port
from services.access.store import encode_access
from services.kit.servicetokens import Signer, new_key


def matricule(i: int) -> str:
    """A valid matricule per index: birth date 1950-01-01 + i // 1000 days, serial i % 1000."""
    born = (T0.date().replace(year=1950) + timedelta(days=i // 1000)).strftime("%Y%m%d")
    base = f"{born}{i % 1000:03d}"
    return base + luhn.calc_check_digit(base) + verhoeff.calc_check_digit(base)


async def seed(ends: Endpoints, prefix: str, patients: int, grants: int) -> list[tuple[str, str, str]]:
    rng = random.Random(7)
    built, pros = build(patients, grants, rng)
    view = {matricule(i): access for i, access in enumerate(built.values())}
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(ends.mongo_uri, tz_aware=True)
    db = client[f"{prefix}_access"]
    docs = [{"_id": p, "version": 1, "access": encode_access(a), "updated_at": T0} for p, a in view.items()]
    for i in range(0, len(docs), 1000):
        await db["patients"].insert_many(docs[i:i + 1000])
    await db["professionals"].insert_many([{"_id": p, "active": True} for p in pros])
    await client.close()
    return queries(view, pros, 50_000, rng)


GATEWAY_KEY, GATEWAY_PUBLIC = new_key()  # the bench calls as the gateway does, with a service token
SIGNER = Signer("gateway", GATEWAY_KEY)


def start_worker(ends: Endpoints, prefix: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DSP_KAFKA_BOOTSTRAP": ends.bootstrap, "DSP_MONGO_URI": ends.mongo_uri,
           "DSP_SERVICE_PUBLIC_KEYS": f"gateway={GATEWAY_PUBLIC}",
           "DSP_MONGO_DB_PREFIX": prefix, "DSP_KAFKA_GROUP_PREFIX": f"{prefix}-", "DSP_ACCESS_HTTP_PORT": str(port),
           "DSP_LOG_PSEUDONYM_KEY": secrets.token_hex(24), "DSP_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "services.access"], env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)


class Pool:
    """A minimal keep-alive HTTP/1.1 client: a general-purpose client (httpx) costs more CPU per request than
    the endpoint under test, and shares the same two cores with it."""

    def __init__(self, port: int, size: int) -> None:
        self.port, self.size = port, size
        self.idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def open(self) -> None:
        for _ in range(self.size):
            self.idle.put_nowait(await asyncio.open_connection("127.0.0.1", self.port))

    async def close(self) -> None:
        while not self.idle.empty():
            self.idle.get_nowait()[1].close()

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        reader, writer = await self.idle.get()
        try:
            writer.write(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         f"Authorization: Bearer {SIGNER.token('access')}\r\n"
                         f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            return status, await reader.readexactly(length)
        finally:
            self.idle.put_nowait((reader, writer))


async def paced(pool: Pool, rate: float, seconds: float, request: Any) -> tuple[float, list[float]]:
    """Open loop: request i is due at start + i/rate; its latency runs from then to its answer."""
    latencies: list[float] = []
    count, start = int(rate * seconds), time.perf_counter()

    async def one(i: int, due: float) -> None:
        status, body = await request(pool, i)
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {body[:200]!r}")
        latencies.append((time.perf_counter() - due) * 1000)

    tasks = []
    for i in range(count):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    return count / (time.perf_counter() - start), latencies


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

            bodies = [json.dumps({"actor": {"kind": "professional", "id": pro}, "action": "read", "patient": patient,
                                  "document": doc}).encode() for patient, pro, doc in qs]

            async def live(p: Pool, i: int) -> tuple[int, bytes]:
                return await p.request("GET", "/health/live")

            async def decide(p: Pool, i: int) -> tuple[int, bytes]:
                return await p.request("POST", "/v1/decisions", bodies[i % len(bodies)])

            pool = Pool(port, 64)
            await pool.open()
            await paced(pool, 200, 1, decide)  # warm-up
            b_rate, b_lat = await paced(pool, args.rate, args.seconds, live)
            d_rate, d_lat = await paced(pool, args.rate, args.seconds, decide)
            await pool.close()
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    for name, rate, lat in (("baseline GET /health/live", b_rate, b_lat), ("POST /v1/decisions", d_rate, d_lat)):
        print(f"{name:<26} {rate:>8,.0f} req/s offered {args.rate:.0f}/s   p50 {percentile(lat, 50):>7.2f} ms   "
              f"p99 {percentile(lat, 99):>7.2f} ms   (n={len(lat)})")
    print(f"ratio (p99 baseline / p99 decisions): {percentile(b_lat, 99) / percentile(d_lat, 99):.2f}   "
          f"goal: p99 < 5 ms at {args.rate:.0f}/s")
    print(bench_line("access-http", patients=args.patients, grants=args.grants, offered_per_s=args.rate,
                     decisions_per_s=round(d_rate), baseline_per_s=round(b_rate),
                     ratio_p99=round(percentile(b_lat, 99) / percentile(d_lat, 99), 3),
                     decisions_latency_ms=rounded(d_lat), baseline_latency_ms=rounded(b_lat)))


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
