"""FerretDB v1 (MongoDB wire protocol, SQLite backend), built from the Go module proxy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from . import ferretdb_patch
from .procs import InfraError, port_open, read_pid, spawn, stop, wait_port

FERRETDB_MODULE = "github.com/FerretDB/FerretDB"
FERRETDB_VERSION = "v1.24.2"
# The patched build's name: a cached unpatched (or differently patched) binary is never reused.
FERRETDB_BUILD = f"ferretdb-{FERRETDB_VERSION}-{ferretdb_patch.PATCH_ID}"


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
    build = subprocess.run(  # noqa: S603
        [go, "build", "-trimpath", "-o", str(binary), "./cmd/ferretdb"],
        capture_output=True, text=True, check=False, env=env, cwd=src,
    )
    if build.returncode != 0:
        raise InfraError(f"go build of FerretDB failed:\n{build.stderr[-3000:]}")
    return binary


class FerretNode:
    def __init__(self, cache_dir: Path, state_dir: Path, port: int) -> None:
        self.cache_dir, self.port = cache_dir, port
        self.run_dir = state_dir / "run"
        self.data_dir = state_dir / "ferretdb-data"
        self.pid_file = self.run_dir / "ferretdb.pid"
        self.log_file = self.run_dir / "ferretdb.log"

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def running(self) -> bool:
        return read_pid(self.pid_file) is not None

    def start(self, timeout: float = 30.0) -> float:
        binary = install(self.cache_dir)
        if self.running():
            return 0.0
        if port_open(self.port):
            raise InfraError(f"port {self.port} is taken by another process: stop it or set DSP_MONGO_PORT")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "ferretdb-state").mkdir(parents=True, exist_ok=True)
        spawn("ferretdb", [
            str(binary), "--handler=sqlite", f"--sqlite-url=file:{self.data_dir}/",
            f"--listen-addr=127.0.0.1:{self.port}", f"--state-dir={self.run_dir / 'ferretdb-state'}",
            "--debug-addr=-", "--telemetry=disable", "--log-level=warn",
        ], self.run_dir)
        return wait_port(self.port, timeout, self.pid_file, self.log_file)

    def stop(self) -> bool:
        return stop(self.pid_file, timeout=15.0)
