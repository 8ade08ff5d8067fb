"""python -m bench.login [--accounts rate x seconds + 5] [--rate 40] [--seconds 25]

Complete logins as the portal makes them, on a real activation worker: `POST /v1/login` (matricule and
password: one argon2id verification) then `POST /v1/login/verify` with the one-time code — which activation
publishes to notify sealed; this bench plays notify: it reads `notify.requests.v1`, opens the sealed code with
notify's private key and types it. Logins start open-loop at --rate per second for --seconds; a login's latency
runs from its scheduled start to its session. The raw baselines, in the same run: argon2id verifications per
second on this machine's cores (the floor of a login's cost), and the worker's `GET /health/live` at --rate.
The last line is `BENCH {json}`."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient

from bench.common import Endpoints, infrastructure, kafka_options, percentile
from bench.seeding import numbered_matricule
from infra.procs import free_port
from services.kit.hashing import hasher
from services.kit.sealing import new_keypair, request_binding, unseal
from services.kit.servicetokens import Signer, new_key

PASSWORD = "Vianden-Castle-42"  # noqa: S105 - the seeded accounts' password, for this bench only
# The bench's HTTP clients: httpcore's pool goes through all its connections and queued requests at every
# change, so one client of 200 connections, with a few hundred logins in flight, spent a core of this 2-core
# machine on itself (profiled) — taken from the worker it measures. Logins take the clients in turn.
CLIENTS, CONNECTIONS = 25, 8


async def seed(ends: Endpoints, prefix: str, accounts: int) -> list[str]:
    """Active accounts (an e-mail channel each), their passwords hashed with the worker's own parameters."""
    people = [numbered_matricule(i) for i in range(accounts)]
    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        hashes = list(pool.map(lambda _: hasher.hash(PASSWORD), people))
    now = datetime.now(UTC)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(ends.mongo_uri, tz_aware=True)
    await client[f"{prefix}_activation"]["accounts"].insert_many([
        {"_id": m, "state": "active", "active": True, "generation": 1, "code_used": True, "code_hash": "",
         "code_expires_at": now + timedelta(days=90), "password_hash": h, "otp_channel": "email",
         "otp_address": f"p{i}@example.lu", "recent": []} for i, (m, h) in enumerate(zip(people, hashes, strict=True))])
    await client.close()
    return people


def argon2_rate(seconds: float = 3.0) -> float:
    stored, cores = hasher.hash(PASSWORD), os.cpu_count() or 2
    deadline, done = time.perf_counter() + seconds, 0

    def work() -> int:
        n = 0
        while time.perf_counter() < deadline:
            hasher.verify(stored, PASSWORD)
            n += 1
        return n

    with ThreadPoolExecutor(cores) as pool:
        done = sum(pool.map(lambda _: work(), range(cores)))
    return done / seconds


class Mailbox:
    """notify's part: the sealed one-time codes of `notify.requests.v1`, opened with notify's private key."""

    def __init__(self, bootstrap: str, private_key: str) -> None:
        self.consumer = AIOKafkaConsumer("notify.requests.v1", **kafka_options(bootstrap), group_id=None,
                                         auto_offset_reset="latest")
        self.key, self.waiting = private_key, dict[str, asyncio.Future[str]]()

    async def run(self) -> None:
        async for record in self.consumer:
            req = json.loads(record.value)
            future = self.waiting.pop(req["recipient"], None)
            if future is not None and req.get("sealed_parameters") and not future.done():
                binding = request_binding(req["request_id"], req["channel"], req["recipient"], req.get("destination"))
                future.set_result(unseal(self.key, req["sealed_parameters"], bound_to=binding)["code"])


async def run(args: argparse.Namespace, ends: Endpoints) -> dict[str, Any]:
    seal_private, seal_public = new_keypair()
    gateway_key, gateway_public = new_key()
    prefix, port = f"bench{secrets.token_hex(3)}", free_port()
    people = await seed(ends, prefix, args.accounts)
    floor = argon2_rate()
    with tempfile.TemporaryDirectory(prefix="dsp-bench-login-") as tmp:
        env = {**os.environ, "DSP_KAFKA_BOOTSTRAP": ends.bootstrap, "DSP_MONGO_URI": ends.mongo_uri,
               "DSP_MONGO_DB_PREFIX": prefix, "DSP_KAFKA_GROUP_PREFIX": f"{prefix}-",
               "DSP_ACTIVATION_HTTP_PORT": str(port), "DSP_LOG_PSEUDONYM_KEY": secrets.token_hex(24),
               "DSP_ACTIVATION_CODE_KEY": secrets.token_hex(24), "DSP_NOTIFY_PUBLIC_KEY": seal_public,
               "DSP_SERVICE_PUBLIC_KEYS": f"gateway={gateway_public}", "DSP_LOG_LEVEL": "WARNING"}
        log = Path(tmp) / "activation.log"
        worker = subprocess.Popen([sys.executable, "-m", "services.activation"],  # noqa: ASYNC220 - started once
                                  env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
        mailbox = Mailbox(ends.bootstrap, seal_private)
        await mailbox.consumer.start()
        reader = asyncio.create_task(mailbox.run())
        signer = Signer("gateway", gateway_key)
        try:
            async with AsyncExitStack() as clients:
                pool = [await clients.enter_async_context(httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}", timeout=60, limits=httpx.Limits(max_connections=CONNECTIONS)))
                    for _ in range(CLIENTS)]
                turns, http = itertools.cycle(pool), pool[0]
                while (await _live(http)) != 200:
                    if worker.poll() is not None:
                        raise SystemExit(log.read_text()[-2000:])
                    await asyncio.sleep(0.2)

                phases: dict[str, list[float]] = {"password": [], "code": [], "verify": []}

                async def login(m: str) -> None:
                    http = next(turns)
                    headers = {"authorization": f"Bearer {signer.token('activation')}"}
                    code: asyncio.Future[str] = asyncio.get_running_loop().create_future()
                    mailbox.waiting[m] = code
                    t0 = time.perf_counter()
                    first = answer(await http.post("/v1/login", json={"matricule": m, "password": PASSWORD},
                                                   headers=headers))
                    t1 = time.perf_counter()
                    typed = await asyncio.wait_for(code, 30)
                    t2 = time.perf_counter()
                    answer(await http.post("/v1/login/verify", headers=headers, json={
                        "login_token": first["token"], "code": typed}))
                    for name, took in zip(phases, (t1 - t0, t2 - t1, time.perf_counter() - t2), strict=True):
                        phases[name].append(took * 1000)

                async def live(_: str) -> None:
                    if await _live(http) != 200:
                        raise RuntimeError("health/live")

                await paced(people[:5], 5, live)  # warm-up
                b_rate, b_lat, _ = await paced(people[: int(args.rate * args.seconds)], args.rate, live)
                l_rate, l_lat, l_tail = await paced(people[5: 5 + int(args.rate * args.seconds)], args.rate, login)
        except Exception:
            tail = log.read_text(errors="replace")[-4000:]
            sys.stderr.write(f"--- the activation worker's log, last lines:\n{tail}\n")
            raise
        finally:
            reader.cancel()
            await mailbox.consumer.stop()
            worker.terminate()
            worker.wait(timeout=30)
    return {"argon2id_verify_per_s": round(floor, 1), "baseline_live": (b_rate, b_lat), "logins": (l_rate, l_lat),
            "phases": phases, "logins_with_tail": l_tail}


def answer(reply: httpx.Response) -> dict[str, Any]:
    """An accepted step's answer; anything else stops the bench, saying what came back."""
    body = reply.json() if reply.headers.get("content-type", "").startswith("application/json") else {}
    if reply.status_code != 200 or not body.get("accepted"):
        raise RuntimeError(f"HTTP {reply.status_code}: {body.get('reason') or reply.text[:300]}")
    return body


async def _live(http: httpx.AsyncClient) -> int:
    try:
        return (await http.get("/health/live")).status_code
    except httpx.TransportError:
        return 0


async def paced(items: list[str], rate: float, one: Any) -> tuple[float, list[float], float]:
    """Open loop: item i starts at start + i/rate; its latency runs from then to its end. The rate served is the
    completions' own rate, (n - 1) / (last end - first end): the offered rate exactly when every item takes the
    same time, less when a queue builds up (dividing n by the time until the last end instead would count the
    last item's latency as lost time: 400 logins of ~1 s each at 40/s would read 36/s; it is returned too)."""
    latencies: list[float] = []
    ends: list[float] = []
    start = time.perf_counter()

    async def timed(item: str, due: float) -> None:
        await one(item)
        ends.append(time.perf_counter())
        latencies.append((ends[-1] - due) * 1000)

    tasks = []
    for i, item in enumerate(items):
        due = start + i / rate
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(timed(item, due)))
    await asyncio.gather(*tasks)
    with_tail = len(items) / (time.perf_counter() - start)
    if len(ends) < 2 or ends[-1] <= ends[0]:
        return with_tail, latencies, with_tail
    return (len(ends) - 1) / (ends[-1] - ends[0]), latencies, with_tail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=None, help="default: rate x seconds + 5")
    parser.add_argument("--rate", type=float, default=40.0)
    parser.add_argument("--seconds", type=float, default=25.0)
    args = parser.parse_args()
    if args.accounts is None:
        args.accounts = int(args.rate * args.seconds) + 5
    if args.accounts < args.rate * args.seconds + 5:
        parser.error("--accounts must cover rate x seconds + 5 (each account logs in once)")
    with infrastructure() as ends:
        out = asyncio.run(run(args, ends))
    l_rate, l_lat = out["logins"]
    b_rate, b_lat = out["baseline_live"]
    print(f"argon2id verifications (raw, {os.cpu_count()} cores): {out['argon2id_verify_per_s']:,.0f}/s")
    for name, rate, lat in (("baseline GET /health/live", b_rate, b_lat), ("complete logins", l_rate, l_lat)):
        print(f"{name:<26} {rate:>7,.1f}/s offered {args.rate:.0f}/s   p50 {percentile(lat, 50):7.1f} ms   "
              f"p99 {percentile(lat, 99):7.1f} ms")
    print(f"  (n / time until the last login ended: {out['logins_with_tail']:.1f}/s)")
    print("  of which (p50 / p99 ms): " + ", ".join(f"{name} {percentile(lat, 50):.0f} / {percentile(lat, 99):.0f}"
                                                   for name, lat in out["phases"].items()))
    print("BENCH " + json.dumps({
        "name": "login", "logins_per_s": round(l_rate, 1), "offered_per_s": args.rate,
        "logins_per_s_until_last_end": round(out["logins_with_tail"], 1),
        "p50_ms": round(percentile(l_lat, 50), 1), "p99_ms": round(percentile(l_lat, 99), 1),
        "baseline": {"argon2id_verify_per_s": out["argon2id_verify_per_s"], "health_live_p99_ms":
                     round(percentile(b_lat, 99), 1)},
        "ratio_logins_to_argon2id": round(l_rate / out["argon2id_verify_per_s"], 3),
        "argon2id": {"memory_kib": hasher.memory_cost, "time_cost": hasher.time_cost,
                     "parallelism": hasher.parallelism},
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()}}))


if __name__ == "__main__":
    main()
