"""SpiceDB, the engine a team would pick instead of our access service, as it is deployed: v1.56.2 on PostgreSQL.

- SpiceDB is built once through the Go module proxy into the project cache, like vegeta (`infra.tools.install`).
- PostgreSQL is Debian's (`apt-get install postgresql`): a private cluster (initdb) on a free port and a data folder
  under the run's temporary folder, started and stopped by the bench like Kafka and FerretDB (as the `postgres` user
  when the bench runs as root: PostgreSQL refuses to run as root). Debian's defaults, plus
  `track_commit_timestamp=on`, which SpiceDB's PostgreSQL datastore asks for.
- `spicedb datastore migrate head`, then `spicedb serve` with its HTTP gateway on and a preshared key (no dispatch
  cluster, no telemetry, no release check: one node, no network).
- The schema is our grant model (`services.access.domain`): a professional reads a patient's record with a trusted
  circle membership (no end, or its access period: native expiration), a presence-password grant or an emergency
  grant (each with its end as native expiration, `use expiration`), unless the patient blocked them. Document blocks
  and the patient's refusal of emergency access have no relation here (none in the bench's data refuses emergency
  access; document blocks only change our answer for the few blocked documents).
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from infra.procs import free_port
from infra.tools import GoTool, install
from services.access.domain.decisions import PatientAccess
from services.access.domain.grants import GrantKind

SPICEDB = GoTool("spicedb", "github.com/authzed/spicedb", "v1.56.2", "./cmd/spicedb",  # its release's ldflags
                 ldflags="-s -w -checklinkname=0 -X github.com/jzelinskie/cobrautil/v2.Version=v1.56.2")

SCHEMA = """use expiration

definition professional {}

definition patient {
    relation circle: professional | professional with expiration
    relation presence: professional with expiration
    relation emergency: professional with expiration
    relation blocked: professional
    permission read = (circle + presence + emergency) - blocked
}
"""
RELATION = {GrantKind.CIRCLE: "circle", GrantKind.PRESENCE: "presence", GrantKind.EMERGENCY: "emergency"}
BATCH = 1000  # SpiceDB's default --write-relationships-max-updates-per-call


def binary() -> Path:
    return install(SPICEDB)


def _rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def relationships(view: dict[str, PatientAccess], now: datetime) -> list[dict[str, Any]]:
    """The view's grants and blocks as SpiceDB relationships (its HTTP API's JSON), as they would stand at `now`:
    a grant given after `now` is not written yet; one that has ended is still there with its past expiry (SpiceDB
    ignores it, as our decide() does, until its garbage collector deletes it)."""
    out = []
    for patient, access in view.items():
        resource = {"objectType": "patient", "objectId": patient}
        for grant in access.grants.values():
            if grant.granted_at > now:
                continue
            rel: dict[str, Any] = {"resource": resource, "relation": RELATION[grant.kind],
                                   "subject": {"object": {"objectType": "professional",
                                                          "objectId": grant.professional_id}}}
            if grant.ends_at is not None:
                rel["optionalExpiresAt"] = _rfc3339(grant.ends_at)
            out.append(rel)
        out.extend({"resource": resource, "relation": "blocked",
                    "subject": {"object": {"objectType": "professional", "objectId": pro}}}
                   for pro in sorted(access.blocked_professionals))
    return out


def check_body(patient: str, professional: str, token: str | None = None) -> bytes:
    """`POST /v1/permissions/check`: may `professional` read `patient`'s record. Minimize latency (SpiceDB's default
    consistency: a recent snapshot, at most its quantization interval old, 5 s, and its caches), or at least as
    fresh as `token` (a write's ZedToken)."""
    consistency = {"atLeastAsFresh": {"token": token}} if token else {"minimizeLatency": True}
    return json.dumps({"consistency": consistency,
                       "resource": {"objectType": "patient", "objectId": patient}, "permission": "read",
                       "subject": {"object": {"objectType": "professional", "objectId": professional}}}).encode()


def allowed(answer: dict[str, Any]) -> bool:
    return bool(answer["permissionship"] == "PERMISSIONSHIP_HAS_PERMISSION")


@dataclass
class Postgres:
    uri: str
    data: Path
    version: str

    def cpu_s(self) -> float:
        """CPU time of the cluster so far: the postmaster (with the backends that have exited) and its live
        processes (the backends serving SpiceDB's pool, the checkpointer, the WAL writer...)."""
        root = int((self.data / "postmaster.pid").read_text().split()[0])
        total = _cpu(root, children_done=True)
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()
                if int(fields[1]) == root:
                    total += _cpu(int(stat.parent.name), children_done=False)
            except (OSError, ValueError):
                continue  # exited meanwhile
        return total


def _cpu(pid: int, children_done: bool) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if children_done else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def _pg_bin(name: str) -> str:
    """Debian's PostgreSQL server programs are not on PATH: the newest /usr/lib/postgresql/<n>/bin."""
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    path = str(found[-1]) if found else shutil.which(name)
    if path is None:
        raise SystemExit("PostgreSQL is needed for the SpiceDB comparison: apt-get install -y postgresql")
    return path


@contextmanager
def postgres(tmp: Path) -> Iterator[Postgres]:
    """A private PostgreSQL cluster on a free loopback port, its data under `tmp`; stopped and gone afterwards."""
    data, port = tmp / "postgres", free_port()
    data.mkdir()
    run_as: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses root: the cluster is the postgres user's (Debian's package makes it)
        user = pwd.getpwnam("postgres")
        tmp.chmod(0o755)
        os.chown(data, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*run_as, _pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",  # noqa: S603
                    "-E", "UTF8", "--no-instructions"], check=True, capture_output=True)
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {data} -c track_commit_timestamp=on"
    subprocess.run([*run_as, _pg_bin("pg_ctl"), "-D", str(data), "-l", str(data / "server.log"), "-w",  # noqa: S603
                    "-o", options, "start"], check=True, capture_output=True)
    try:
        version = subprocess.run([_pg_bin("postgres"), "--version"], check=True, capture_output=True,  # noqa: S603
                                 text=True).stdout.strip()
        yield Postgres(f"postgres://postgres@127.0.0.1:{port}/postgres?sslmode=disable", data, version)
    finally:
        subprocess.run([*run_as, _pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],  # noqa: S603
                       check=False, capture_output=True)


@dataclass
class SpiceDB:
    url: str  # the HTTP gateway
    key: str  # the preshared key
    process: subprocess.Popen[bytes]

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"}


@contextmanager
def spicedb(db: Postgres, tmp: Path) -> Iterator[SpiceDB]:
    """`spicedb serve` on `db` (migrated to head first), its HTTP gateway on a free loopback port; ready when its
    gateway's /healthz answers 200."""
    exe, log = str(binary()), tmp / "spicedb.log"
    store = ["--datastore-engine=postgres", f"--datastore-conn-uri={db.uri}", "--skip-release-check"]
    subprocess.run([exe, "datastore", "migrate", "head", *store, "--log-level=warn"],  # noqa: S603
                   check=True, capture_output=True)
    key, http_port = secrets.token_urlsafe(24), free_port()
    process = subprocess.Popen(  # noqa: S603
        [exe, "serve", f"--grpc-preshared-key={key}", f"--grpc-addr=127.0.0.1:{free_port()}", "--http-enabled",
         f"--http-addr=127.0.0.1:{http_port}", f"--metrics-addr=127.0.0.1:{free_port()}",
         "--dispatch-cluster-enabled=false", "--telemetry-endpoint=", "--log-level=warn", *store],
        stdout=log.open("wb"), stderr=subprocess.STDOUT)
    server = SpiceDB(f"http://127.0.0.1:{http_port}", key, process)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"spicedb did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def load(server: SpiceDB, rels: list[dict[str, Any]]) -> str:
    """The schema, then the relationships in batches of `BATCH` (WriteRelationships, each batch one transaction);
    the last write's ZedToken."""
    token = ""
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=120) as client:
        answer = client.post("/v1/schema/write", json={"schema": SCHEMA})
        if answer.status_code != 200:
            raise SystemExit(f"spicedb refused the schema: {answer.text[:500]}")
        for i in range(0, len(rels), BATCH):
            batch = [{"operation": "OPERATION_CREATE", "relationship": r} for r in rels[i:i + BATCH]]
            answer = client.post("/v1/relationships/write", json={"updates": batch})
            if answer.status_code != 200:
                raise SystemExit(f"spicedb refused relationships {i}..: {answer.text[:500]}")
            token = answer.json()["writtenAt"]["token"]
    return token


def analyze(db: Postgres) -> None:
    """`VACUUM ANALYZE` after the bulk load, as autovacuum would have done long before a deployed SpiceDB serves:
    without the planner's statistics the first checks after a load were 50x slower (110 served/s of 250)."""
    subprocess.run([_pg_bin("psql"), db.uri, "-qc", "VACUUM ANALYZE"], check=True, capture_output=True)  # noqa: S603


def check(server: SpiceDB, patient: str, professional: str, token: str) -> bool:
    """One check at least as fresh as `token` (the bench's agreement test, before it measures: a check that
    minimizes latency right after the load may read a snapshot from before its last writes)."""
    answer = httpx.post(f"{server.url}/v1/permissions/check", content=check_body(patient, professional, token),
                        headers=server.headers, timeout=30)
    answer.raise_for_status()
    return allowed(answer.json())
