"""The FHIR door on the real mesh: a gateway, records, access and activation worker (each its own process, over
HTTP with service tokens, on a fresh local Kafka + FerretDB), their databases seeded as each service stores them.

- export: a patient logged in through the portal API (password, then the one-time code activation seals for notify:
  this bench plays notify, `bench.login.Mailbox`) asks `GET /v1/me/export` — --export-documents lab results (one in
  ten corrected: two versions), her trusted circle, and a Traçabilité of three reads per document, made by the
  professional of her circle as the gateway asks for them (`POST /v1/decisions` on access: audited in the chain);
- search: `GET /fhir/r4/DocumentReference?patient=<id>&_count=20`, open loop by vegeta at --rate/s for --seconds,
  with a bearer token a registered practice's software got (SMART Backend Services: its signed assertion exchanged
  at `/fhir/r4/auth/token`), on --docs documents over --patients patients who all put the professional in their
  circle (access's snapshot, stored as access stores it); the raw baseline, same run: the gateway's
  `GET /health/live` at the same rate.

Where the time goes: each process's CPU (the workers, FerretDB, Kafka, vegeta) per export and per search sent.
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
import jwt
from cryptography.hazmat.primitives.asymmetric import ed25519
from jwt.algorithms import OKPAlgorithm
from pymongo import AsyncMongoClient

from bench import vegeta
from bench.access.http import GATEWAY_KEY, GATEWAY_PUBLIC, SIGNER, start_worker
from bench.access.phases import cpu_s
from bench.common import Endpoints
from bench.ingest.__main__ import RecordsWorker
from bench.login.__main__ import Mailbox
from bench.seeding import T0, corrected, documents, numbered_matricule, seed
from infra.procs import free_port
from services.access.domain import state as ev
from services.access.domain.decisions import PatientAccess
from services.access.store import encode_access
from services.gateway.fhir.ids import PatientIds
from services.kit.hashing import hasher
from services.kit.sealing import new_keypair, request_binding, unseal

PRO, CLIENT, KID = "PRO-4242", "bench-cabinet", "bench-1"
PASSWORD = "Echternach-Dance-19"  # noqa: S105 - the bench patient's password, for this bench only


class Mesh:
    """The four workers' processes, one database prefix, the keys that tie them together."""

    def __init__(self, ends: Endpoints, tmp: Path) -> None:
        self.ends, self.tmp = ends, tmp
        self.records = RecordsWorker(ends, tmp / "records.log")
        self.records.env["DSP_SERVICE_PUBLIC_KEYS"] = f"gateway={GATEWAY_PUBLIC}"
        self.prefix = self.records.prefix
        self.ports = {name: free_port() for name in ("access", "activation", "gateway")}
        self.seal_private, self.seal_public = new_keypair()
        self.portal_key = secrets.token_hex(32)
        self.ids = PatientIds(self.portal_key.encode())
        self.client_key = ed25519.Ed25519PrivateKey.generate()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.url = f"http://127.0.0.1:{self.ports['gateway']}"

    def _env(self, name: str, **more: str) -> dict[str, str]:
        return {**os.environ, "DSP_KAFKA_BOOTSTRAP": self.ends.bootstrap, "DSP_MONGO_URI": self.ends.mongo_uri,
                "DSP_MONGO_DB_PREFIX": self.prefix, "DSP_KAFKA_GROUP_PREFIX": f"{self.prefix}-",
                "DSP_LOG_PSEUDONYM_KEY": secrets.token_hex(24), "DSP_LOG_LEVEL": "WARNING",
                "DSP_SERVICE_PUBLIC_KEYS": f"gateway={GATEWAY_PUBLIC}", "PYTHONUNBUFFERED": "1", **more}

    def _spawn(self, name: str, env: dict[str, str]) -> None:
        self.procs[name] = subprocess.Popen([sys.executable, "-m", f"services.{name}"], env=env,  # noqa: S603
                                            stdout=(self.tmp / f"{name}.log").open("wb"), stderr=subprocess.STDOUT)

    def clients_file(self) -> Path:
        path = self.tmp / "fhir-clients.json"
        public = {**json.loads(OKPAlgorithm.to_jwk(self.client_key.public_key())), "kid": KID, "alg": "EdDSA"}
        path.write_text(json.dumps([{"client_id": CLIENT, "jwks": {"keys": [public]}, "professionals": [PRO],
                                     "scopes": ["user/*.read"]}]))
        return path

    async def start(self) -> None:
        self.records.start()
        self.procs["access"] = start_worker(self.ends, self.prefix, self.ports["access"], self.tmp / "access.log")
        self._spawn("activation", self._env(
            "activation", DSP_ACTIVATION_HTTP_PORT=str(self.ports["activation"]),
            DSP_ACTIVATION_CODE_KEY=secrets.token_hex(24), DSP_NOTIFY_PUBLIC_KEY=self.seal_public))
        local = "http://127.0.0.1:{}".format
        self._spawn("gateway", self._env(
            "gateway", DSP_GATEWAY_HTTP_PORT=str(self.ports["gateway"]), DSP_SERVICE_KEY=GATEWAY_KEY,
            DSP_GATEWAY_ACTIVATION_URL=local(self.ports["activation"]), DSP_GATEWAY_ACCESS_URL=local(
                self.ports["access"]), DSP_GATEWAY_RECORDS_URL=local(self.records.port),
            DSP_GATEWAY_NOTIFY_URL=local(free_port()),  # notify is not needed by these reads
            DSP_GATEWAY_PORTAL_KEY=self.portal_key, DSP_GATEWAY_SECURE_COOKIES="false",
            DSP_GATEWAY_FHIR_CLIENTS_FILE=str(self.clients_file()),
            DSP_GATEWAY_SESSION_RATE_LIMIT_PER_MINUTE="100000",
            DSP_GATEWAY_FHIR_RATE_LIMIT_PER_MINUTE="100000"))  # one software's token, 100 searches a second
        async with httpx.AsyncClient(timeout=5) as http:
            for name, port in (("access", self.ports["access"]), ("activation", self.ports["activation"]),
                               ("gateway", self.ports["gateway"])):
                deadline = time.monotonic() + 120
                while not await _ready(http, f"http://127.0.0.1:{port}/health/ready"):
                    if self.procs[name].poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(f"{name} not ready:\n" + (self.tmp / f"{name}.log").read_text()[-3000:])
                    await asyncio.sleep(0.2)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            proc.wait(timeout=60)
        self.records.stop()

    def assertion(self) -> str:
        now = int(time.time())
        return jwt.encode({"iss": CLIENT, "sub": CLIENT, "aud": f"{self.url}/fhir/r4/auth/token", "exp": now + 120,
                           "jti": secrets.token_hex(12), "dsp_professional": PRO}, self.client_key,
                          algorithm="EdDSA", headers={"kid": KID})


class Codes(Mailbox):
    """`bench.login`'s mailbox, taking only sealed one-time codes: her DSP's first-access notice (access tells her
    of the professional's first read, on the same topic, to the same recipient) must not take her code's place."""

    async def run(self) -> None:
        async for record in self.consumer:
            req = json.loads(record.value)
            if not req.get("sealed_parameters") or req["recipient"] not in self.waiting:
                continue
            future = self.waiting.pop(req["recipient"])
            binding = request_binding(req["request_id"], req["channel"], req["recipient"], req.get("destination"))
            if not future.done():
                future.set_result(unseal(self.key, req["sealed_parameters"], bound_to=binding)["code"])


ROLES = {"gateway": "services.gateway", "records": "services.records", "access": "services.access",
         "activation": "services.activation", "ferretdb": "ferretdb", "kafka": "kafka.Kafka", "vegeta": "vegeta"}


def cpu_by_role() -> dict[str, float]:
    """CPU seconds so far of this bench's processes (its descendants: the workers, FerretDB, Kafka, vegeta), by
    role, from /proc — where a search's time goes."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            children.setdefault(int(stat.read_text().rpartition(")")[2].split()[1]), []).append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    out = dict.fromkeys(ROLES, 0.0)
    todo = list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            role = next((r for r, mark in ROLES.items() if mark in command), None)
            if role is not None:
                out[role] += cpu_s(pid)
        except OSError:
            continue
    return out


def cpu_ms_per(before: dict[str, float], after: dict[str, float], count: int) -> dict[str, float]:
    return {role: round((after[role] - before[role]) / max(count, 1) * 1000, 2) for role in ROLES}


async def _ready(http: httpx.AsyncClient, url: str) -> bool:
    try:
        return (await http.get(url)).status_code == 200
    except httpx.TransportError:
        return False


def in_circle() -> dict[str, Any]:
    """A patient's access as access stores it: the bench's professional in her trusted circle."""
    access = PatientAccess()
    ev.apply(access, ev.CircleMemberAdded(PRO, T0 - timedelta(days=30), None))
    return encode_access(access)


async def seed_mesh(mesh: Mesh, args: argparse.Namespace, people: list[str], patient: str,
                    rng: random.Random) -> list[str]:
    """records: --docs documents over `people`, and the exporting patient's --export-documents (one in ten
    corrected); access: every one of them with the professional in her circle, the professional listed;
    activation: the exporting patient's active account. Returns her documents' ids."""
    started = time.perf_counter()
    hers = [corrected(d, rng) if i % 10 == 0 else d
            for i, d in enumerate(documents(args.export_documents, [patient], rng))]
    await seed(mesh.ends.mongo_uri, mesh.prefix, hers)
    for start in range(0, args.docs, 20_000):  # in slices (memory); document i is people[i % len(people)]'s
        turn = people[start % len(people):] + people[:start % len(people)]
        await seed(mesh.ends.mongo_uri, mesh.prefix, documents(min(20_000, args.docs - start), turn, rng))
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mesh.ends.mongo_uri, tz_aware=True)
    db, access = client[f"{mesh.prefix}_access"], in_circle()
    everyone = [patient, *people]
    for i in range(0, len(everyone), 1000):
        await db["patients"].insert_many([{"_id": p, "version": 1, "access": access,
                                           "updated_at": T0 - timedelta(days=30, seconds=i + n)}
                                          for n, p in enumerate(everyone[i:i + 1000])])
    await db["professionals"].insert_one({"_id": PRO, "given_name": "Paul", "family_name": "Hoffmann",
                                          "profession": "Médecin", "active": True})
    await client[f"{mesh.prefix}_activation"]["accounts"].insert_one({
        "_id": patient, "state": "active", "active": True, "generation": 1, "code_used": True, "code_hash": "",
        "code_expires_at": T0 + timedelta(days=3650), "password_hash": hasher.hash(PASSWORD),
        "otp_channel": "email", "otp_address": "bench.export@example.lu", "recent": []})
    await client.close()
    print(f"seeded {args.docs + args.export_documents:,} documents ({args.export_documents:,} hers, "
          f"{sum(d['version_count'] for d in hers):,} versions), {len(everyone):,} patients' access "
          f"in {time.perf_counter() - started:.0f}s", flush=True)
    return [d["_id"] for d in hers]


async def trail(mesh: Mesh, patient: str, document_ids: list[str], per_document: int) -> float:
    """Her Traçabilité: the professional's reads of her documents, decided and audited by access as the gateway
    asks for them. Returns the seconds it took."""
    started, limit = time.perf_counter(), asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{mesh.ports['access']}", timeout=60) as http:
        async def read(document: str) -> None:
            async with limit:
                reply = await http.post("/v1/decisions", headers={"Authorization": f"Bearer {SIGNER.token('access')}"},
                                        json={"actor": {"kind": "professional", "id": PRO}, "action": "read",
                                              "patient": patient, "document": document})
                if reply.status_code != 200 or not reply.json()["allowed"]:
                    raise RuntimeError(f"decision: HTTP {reply.status_code} {reply.text[:300]}")
        await asyncio.gather(*(read(d) for d in document_ids for _ in range(per_document)))
    return time.perf_counter() - started


async def login(mesh: Mesh, mailbox: Codes, patient: str) -> httpx.AsyncClient:
    """The patient's portal session: password, then the one-time code (read as notify would, from `mailbox`)."""
    web = httpx.AsyncClient(base_url=mesh.url, timeout=120)
    code: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    mailbox.waiting[patient] = code
    first = await web.post("/v1/login", json={"matricule": patient, "password": PASSWORD, "channel": "email"})
    if first.status_code != 200:
        raise RuntimeError(f"login: HTTP {first.status_code} {first.text[:300]}")
    verified = await web.post("/v1/login/verify", json={"code": await asyncio.wait_for(code, 60)})
    if verified.status_code != 200:
        raise RuntimeError(f"login/verify: HTTP {verified.status_code} {verified.text[:300]}")
    return web


async def export(web: httpx.AsyncClient, runs: int) -> dict[str, Any]:
    """`GET /v1/me/export` `runs` times, each timed from the request to the last byte of the Bundle."""
    seconds, resources, size, counts = [], 0, 0, {}
    cpu = cpu_by_role()
    for _ in range(runs):
        started = time.perf_counter()
        reply = await web.get("/v1/me/export")
        seconds.append(time.perf_counter() - started)
        if reply.status_code != 200:
            raise RuntimeError(f"export: HTTP {reply.status_code} {reply.text[:300]}")
        bundle = reply.json()
        size, resources = len(reply.content), len(bundle["entry"])
        kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
        counts = {k: sum(e["resource"]["resourceType"] == k for e in bundle["entry"]) for k in sorted(kinds)}
    return {"cpu_ms_per_export": cpu_ms_per(cpu, cpu_by_role(), runs),
            "seconds": [round(s, 3) for s in seconds], "seconds_best": round(min(seconds), 3),
            "seconds_worst": round(max(seconds), 3), "resources": resources, "bytes": size, "by_type": counts}


async def token(mesh: Mesh) -> str:
    async with httpx.AsyncClient(base_url=mesh.url, timeout=30) as http:
        reply = await http.post("/fhir/r4/auth/token", data={
            "grant_type": "client_credentials", "scope": "user/*.read", "client_assertion": mesh.assertion(),
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"})
    if reply.status_code != 200:
        raise RuntimeError(f"token: HTTP {reply.status_code} {reply.text[:300]}")
    return str(reply.json()["access_token"])


async def search(mesh: Mesh, people: list[str], args: argparse.Namespace,
                 rng: random.Random) -> tuple[vegeta.Run, vegeta.Run, dict[str, float]]:
    """The gateway's `GET /health/live` (baseline), then DocumentReference searches, each open loop by vegeta."""
    bearer = await token(mesh)
    headers = {"Authorization": f"Bearer {bearer}", "Accept": "application/fhir+json"}
    asked = rng.sample(people, min(len(people), int(args.rate * args.seconds) + 200))
    searches = [vegeta.Target("GET", f"{mesh.url}/fhir/r4/DocumentReference?patient={mesh.ids.of(p)}&_count=20",
                              headers) for p in asked]
    live = [vegeta.Target("GET", f"{mesh.url}/health/live", {})]
    await asyncio.to_thread(vegeta.binary)  # built (first time only) before the clock starts
    await asyncio.to_thread(vegeta.attack, searches[-200:], min(args.rate, 50), 4, mesh.tmp, "warm-up")
    baseline = await asyncio.to_thread(vegeta.attack, live, args.rate, args.seconds, mesh.tmp, "baseline")
    cpu = cpu_by_role()
    served = await asyncio.to_thread(vegeta.attack, searches[:-200], args.rate, args.seconds, mesh.tmp, "searches")
    return baseline, served, cpu_ms_per(cpu, cpu_by_role(), served.sent)


async def run(args: argparse.Namespace, ends: Endpoints) -> dict[str, Any]:
    rng = random.Random(26)
    people = [numbered_matricule(i) for i in range(args.patients)]
    patient = numbered_matricule(args.patients)  # hers: not among the searched
    with tempfile.TemporaryDirectory(prefix="dsp-bench-fhir-") as tmp:
        mesh = Mesh(ends, Path(tmp))
        try:
            hers = await seed_mesh(mesh, args, people, patient, rng)
            await mesh.start()
            print(f"mesh ready: gateway {mesh.url}, records, access, activation", flush=True)
            mailbox = Codes(ends.bootstrap, mesh.seal_private)  # listening long before her login
            await mailbox.consumer.start()
            reader = asyncio.create_task(mailbox.run())
            try:
                took = await trail(mesh, patient, hers, args.reads_per_document)
                print(f"her Traçabilité: {len(hers) * args.reads_per_document:,} reads decided and audited "
                      f"in {took:.1f}s", flush=True)
                web = await login(mesh, mailbox, patient)
            finally:
                reader.cancel()
                await mailbox.consumer.stop()
            try:
                exported = await export(web, args.export_runs)
            finally:
                await web.aclose()
            print(f"export over HTTP: {exported['resources']:,} resources, {exported['bytes'] / 1e6:.1f} MB, "
                  f"best {exported['seconds_best']} s, worst {exported['seconds_worst']} s", flush=True)
            baseline, served, search_cpu = await search(mesh, people, args, rng)
        except BaseException:
            for name in ("gateway", "access", "activation", "records"):
                log = Path(tmp) / f"{name}.log"
                if log.exists():
                    sys.stderr.write(f"--- {name}, last lines:\n{log.read_text(errors='replace')[-2000:]}\n")
            raise
        finally:
            mesh.stop()
    return {"export": {"documents": args.export_documents, "versions": sum(1 + (i % 10 == 0) for i in range(
        args.export_documents)), "audit_entries": args.export_documents * args.reads_per_document, **exported},
        "baseline": baseline, "served": served, "search_cpu_ms": search_cpu}
