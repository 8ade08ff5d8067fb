"""FerretDB v1 (MongoDB wire protocol, SQLite backend), built from the Go module proxy."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote_plus

from . import ferretdb_patch
from .procs import InfraError, held, port_open, read_pid, spawn, stop, wait_port

FERRETDB_MODULE = "github.com/FerretDB/FerretDB"
FERRETDB_VERSION = "v1.24.2"
# The patched build's name: a cached unpatched (or differently patched) binary is never reused.
FERRETDB_BUILD = f"ferretdb-{FERRETDB_VERSION}-{ferretdb_patch.PATCH_ID}"

# Authentication: FerretDB's "new auth" (SCRAM-SHA-256/SCRAM-SHA-1, users stored by FerretDB in admin.system.users;
# every command but the handshake ones — hello, ping, buildInfo, saslStart, ... — refuses an unauthenticated
# connection). Its admin user is created by FerretDB's own setup on the first start of a state folder; then one user
# per service, all in the `admin` authentication database. FerretDB v1 has no authorization: `createUser` refuses any
# role ("support for field roles ... is not implemented yet"), so an authenticated user can read and write every
# database (and create users). The official `mongo` image (compose.yaml) gives each user readWrite on its own database.
ADMIN_USER = "dsp-admin"
AUTH_DB = "admin"
MONGO_SERVICES = ("records", "activation", "access", "notify", "gateway", "console")


def install(cache_dir: Path) -> Path:
    """Build the patched ferretdb binary once into the cache; returns its path.

    `go install ...@v1.24.2` needs the proxy's version list, which is not always served, and a build
    inside the module lacks the version stamp FerretDB's own Taskfile writes; so: download the module,
    copy it to a writable folder, apply `infra.ferretdb_patch` (two upstream bugs of the SQLite backend
    and the `_id` `$in` push-down), write build/version/version.txt, and `go build`.
    """
    binary = cache_dir / "bin" / FERRETDB_BUILD
    if binary.exists():
        return binary
    with held(cache_dir / "bin" / f".{FERRETDB_BUILD}.lock"):
        if not binary.exists():  # or another process built it while this one waited
            _build(cache_dir, binary)
    return binary


def _build(cache_dir: Path, binary: Path) -> None:
    go = shutil.which("go")
    if go is None:
        raise InfraError("Go (>= 1.24) is required once, to build FerretDB: install it from go.dev or apt")
    print(f"[infra] building {FERRETDB_BUILD} (FerretDB, patched) with go (first time only, ~2 min) ...", flush=True)
    env = {**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}
    dl = subprocess.run(  # noqa: S603
        [go, "mod", "download", "-json", f"{FERRETDB_MODULE}@{FERRETDB_VERSION}"],
        capture_output=True, text=True, check=False, env=env, cwd=cache_dir,
    )
    if dl.returncode != 0:
        raise InfraError(f"go mod download failed:\n{dl.stdout[-2000:]}\n{dl.stderr[-2000:]}")
    src = cache_dir / "build" / FERRETDB_BUILD
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(json.loads(dl.stdout)["Dir"], src)
    for path in [src, *src.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    ferretdb_patch.apply(src)
    (src / "build" / "version" / "version.txt").write_text(FERRETDB_VERSION + "\n")
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_name(binary.name + ".partial")
    build = subprocess.run(  # noqa: S603
        [go, "build", "-trimpath", "-o", str(partial), "./cmd/ferretdb"],
        capture_output=True, text=True, check=False, env=env, cwd=src,
    )
    if build.returncode != 0:
        raise InfraError(f"go build of FerretDB failed:\n{build.stderr[-3000:]}")
    partial.replace(binary)  # only a complete binary ever has the final name


# SQLite in WAL mode (FerretDB's default) with synchronous=NORMAL: a commit is in the write-ahead log before it is
# acknowledged, so a crash of FerretDB or of any worker loses nothing; only an OS crash or a power loss can lose
# the commits since the last checkpoint — MongoDB's default (w:1, journal synced every 100 ms) and Kafka's (no
# fsync, replication instead) make the same trade. FULL fsyncs every commit: each statement of a bulk update
# 2.4x slower here (measured, 500 updates: ~100 ms vs ~240 ms). Production runs MongoDB (compose.yaml).
SQLITE_PRAGMAS = "_pragma=synchronous(normal)"
# Go's collector ran at 16% of FerretDB's CPU under lab-result inserts (pprof): collecting at 4x the live heap
# instead of 2x stored 20,000 documents in 3.0 s instead of 3.7 s (two runs each); the memory limit makes it
# collect harder before the heap could ever outgrow what a 2-core, 24 GiB machine gives a database.
GO_RUNTIME = {"GOGC": "400", "GOMEMLIMIT": "1GiB"}


class FerretNode:
    def __init__(self, cache_dir: Path, state_dir: Path, port: int, tied: bool = False) -> None:
        self.cache_dir, self.port, self.tied = cache_dir, port, tied
        self.run_dir = state_dir / "run"
        self.data_dir = state_dir / "ferretdb-data"
        self.pid_file = self.run_dir / "ferretdb.pid"
        self.log_file = self.run_dir / "ferretdb.log"
        self.users_dir = state_dir / "mongo-users"

    @property
    def uri(self) -> str:
        """The server's address, without credentials (workers add their own: DSP_MONGO_USERNAME/PASSWORD)."""
        return f"mongodb://127.0.0.1:{self.port}/"

    @property
    def admin_uri(self) -> str:
        """The address with the admin user's credentials: for infrastructure, tests and benchmarks, never a worker."""
        return (f"mongodb://{quote_plus(ADMIN_USER)}:{quote_plus(self.password(ADMIN_USER))}@127.0.0.1:{self.port}/"
                f"?authSource={AUTH_DB}")

    def password(self, user: str) -> str:
        """`user`'s password, generated once per state folder and kept there (mode 600); never printed."""
        path = self.users_dir / f"{user}.password"
        if not path.exists():
            self.users_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.chmod(0o600)
            path.write_text(secrets.token_urlsafe(24) + "\n")
        return path.read_text().strip()

    def credentials(self, service: str) -> dict[str, str]:
        """The environment that makes `service` connect as its own user."""
        return {"DSP_MONGO_USERNAME": service, "DSP_MONGO_PASSWORD": self.password(service)}

    def ensure_users(self, users: dict[str, str] | None = None) -> None:
        """Create (or reset the password of) one user per service, as the admin; idempotent. `users`: name →
        password, default every service with its password from the state folder."""
        from pymongo import MongoClient
        from pymongo.errors import OperationFailure, PyMongoError

        wanted = users if users is not None else {name: self.password(name) for name in MONGO_SERVICES}
        client: MongoClient[dict[str, object]] = MongoClient(self.admin_uri, serverSelectionTimeoutMS=10_000)
        try:
            admin = client[AUTH_DB]
            for name, pwd in wanted.items():
                try:  # no roles: FerretDB v1 refuses any (see ADMIN_USER above)
                    admin.command("createUser", name, pwd=pwd, roles=[], mechanisms=["SCRAM-SHA-256"])
                except OperationFailure as exc:
                    if exc.code != 51003:  # "User ... already exists": its password is the state folder's
                        raise
                    admin.command("updateUser", name, pwd=pwd, mechanisms=["SCRAM-SHA-256"])
        except OperationFailure as exc:
            if exc.code == 18:
                raise InfraError(f"FerretDB refused its admin user: the password in {self.users_dir} is not the one "
                                 f"{self.data_dir} was set up with (restore it, or delete both)") from None
            raise InfraError(f"FerretDB refused to create the service users: {exc.details}") from None
        except PyMongoError as exc:
            raise InfraError(f"FerretDB on port {self.port} did not answer: {type(exc).__name__}") from None
        finally:
            client.close()

    def running(self) -> bool:
        return read_pid(self.pid_file) is not None

    def start(self, timeout: float = 30.0) -> float:
        """Start FerretDB with authentication on (its admin user set up on the first start), then make sure every
        service has its user."""
        binary = install(self.cache_dir)
        if self.running():
            self.ensure_users()
            return 0.0
        if port_open(self.port):
            raise InfraError(f"port {self.port} is taken by another process: stop it or set DSP_MONGO_PORT")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "ferretdb-state").mkdir(parents=True, exist_ok=True)
        spawn("ferretdb", [
            str(binary), "--handler=sqlite", f"--sqlite-url=file:{self.data_dir}/?{SQLITE_PRAGMAS}",
            f"--listen-addr=127.0.0.1:{self.port}", f"--state-dir={self.run_dir / 'ferretdb-state'}",
            "--debug-addr=-", "--telemetry=disable", "--log-level=warn",
            "--test-enable-new-auth", f"--setup-database={AUTH_DB}", f"--setup-username={ADMIN_USER}",
        ], self.run_dir, env={**GO_RUNTIME, "FERRETDB_SETUP_PASSWORD": self.password(ADMIN_USER)},  # not in argv
            die_with_parent=self.tied)
        waited = wait_port(self.port, timeout, self.pid_file, self.log_file)
        self.ensure_users()
        return waited

    def stop(self) -> bool:
        return stop(self.pid_file, timeout=15.0)
