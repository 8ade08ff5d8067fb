"""The real Docker Compose and promtool, and vegeta (the benchmarks' HTTP load generator), built once through the
Go module proxy into the project cache; and this repository's own Go programs (k8scheck, the Kubernetes
manifests' checker), built the same way from their folder.

No Docker engine is needed to check the Docker host path: `compose config` renders and validates
`compose.yaml` (interpolation, `${VAR:?}` errors, the compose-spec schema), and `promtool check config`
validates the Prometheus scrape file. Both are built like FerretDB (`infra.ferretdb`): `go mod download`
of the module (the proxy serves it even where it does not serve the version list `go install` asks for,
and Prometheus' go.mod has a `replace`, which `go install` refuses), a writable copy, `go build`.

    python -m infra.tools compose promtool vegeta k8scheck   # build what is missing, print the paths
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .local import cache_dir
from .procs import InfraError, held


@dataclass(frozen=True)
class GoTool:
    name: str
    module: str
    version: str  # the Go module's version (Prometheus 3.x is published as v0.3xx.y)
    package: str  # inside the module
    ldflags: str = ""

    @property
    def binary_name(self) -> str:
        return f"{self.name}-{self.version}"


COMPOSE = GoTool("docker-compose", "github.com/docker/compose/v2", "v2.40.3", "./cmd",
                 ldflags="-s -w -X github.com/docker/compose/v2/internal.Version=v2.40.3")
PROMTOOL = GoTool("promtool", "github.com/prometheus/prometheus", "v0.305.0", "./cmd/promtool",  # Prometheus 3.5.0
                  ldflags="-s -w -X github.com/prometheus/common/version.Version=3.5.0")
VEGETA = GoTool("vegeta", "github.com/tsenart/vegeta/v12", "v12.13.0", ".",  # HTTP load generator (bench.access.http)
                ldflags="-s -w -X main.Version=v12.13.0")
TOOLS = {"compose": COMPOSE, "promtool": PROMTOOL, "vegeta": VEGETA}
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class LocalGoTool:
    """A Go program of this repository: its folder has its own go.mod and the go.sum that pins every module it
    needs (fetched through the module proxy; the module cache and the build cache stay outside the repository)."""
    name: str
    folder: str  # relative to the repository's root

    def digest(self) -> str:
        """Of its go.mod, go.sum and Go sources: the binary's name carries it, so an edit builds it again."""
        sha = hashlib.sha256()
        src = REPO / self.folder
        for path in sorted(p for p in src.rglob("*") if p.name in ("go.mod", "go.sum") or p.suffix == ".go"):
            sha.update(f"{path.relative_to(src)}\0".encode() + path.read_bytes() + b"\0")
        return sha.hexdigest()[:16]


K8SCHECK = LocalGoTool("k8scheck", "infra/k8scheck")  # deploy/'s manifests in k8s.io/api's types, then the rules
LOCAL_TOOLS = {"k8scheck": K8SCHECK}


def install_local(tool: LocalGoTool, cache: Path | None = None) -> Path:
    """The program's binary in `<cache>/bin`, built from its folder when its sources changed (a lock keeps
    concurrent callers from building it twice). `-mod=readonly`: go.sum must already pin every module, so a build
    never edits the repository (a missing entry is an error to fix with `go mod tidy` in the folder)."""
    cache = cache or cache_dir()
    binary = cache / "bin" / f"{tool.name}-{tool.digest()}"
    if binary.exists():
        return binary
    go = shutil.which("go")
    if go is None:
        raise InfraError(f"Go (>= 1.26) is required once, to build {tool.name}: install it from go.dev or apt")
    with held(cache / "bin" / f".{tool.name}.lock"):
        if binary.exists():  # built by another process while this one waited
            return binary
        print(f"[infra] building {binary.name} with go (first time, and after a change to {tool.folder}) ...",
              file=sys.stderr, flush=True)
        t0 = time.monotonic()
        env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly -buildvcs=false"}
        partial = binary.with_name(binary.name + ".partial")
        build = subprocess.run(  # noqa: S603
            [go, "build", "-trimpath", "-ldflags=-s -w", "-o", str(partial), "."],
            capture_output=True, text=True, check=False, env=env, cwd=REPO / tool.folder,
        )
        if build.returncode != 0:
            raise InfraError(f"go build of {tool.name} failed:\n{build.stderr[-3000:]}")
        partial.replace(binary)  # only a complete binary ever has the final name
        print(f"[infra] built {binary} in {time.monotonic() - t0:.0f}s", file=sys.stderr, flush=True)
    return binary


def install(tool: GoTool, cache: Path | None = None) -> Path:
    """The tool's binary in `<cache>/bin`, built the first time only (a lock keeps concurrent callers from
    building it twice)."""
    cache = cache or cache_dir()
    binary = cache / "bin" / tool.binary_name
    if binary.exists():
        return binary
    go = shutil.which("go")
    if go is None:
        raise InfraError(f"Go (>= 1.24) is required once, to build {tool.name}: install it from go.dev or apt")
    with held(cache / "bin" / f".{tool.binary_name}.lock"):
        if binary.exists():  # built by another process while this one waited
            return binary
        print(f"[infra] building {tool.binary_name} with go (first time only, ~2 min) ...", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
        dl = subprocess.run(  # noqa: S603
            [go, "mod", "download", "-json", f"{tool.module}@{tool.version}"],
            capture_output=True, text=True, check=False, env=env, cwd=cache,
        )
        if dl.returncode != 0:
            raise InfraError(f"go mod download of {tool.module}@{tool.version} failed:\n{dl.stdout[-2000:]}\n"
                             f"{dl.stderr[-2000:]}")
        src = cache / "build" / tool.binary_name
        shutil.rmtree(src, ignore_errors=True)
        shutil.copytree(json.loads(dl.stdout)["Dir"], src)
        for path in [src, *src.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
        partial = binary.with_name(binary.name + ".partial")
        build = subprocess.run(  # noqa: S603
            [go, "build", "-trimpath", f"-ldflags={tool.ldflags}", "-o", str(partial), tool.package],
            capture_output=True, text=True, check=False, env=env, cwd=src,
        )
        if build.returncode != 0:
            raise InfraError(f"go build of {tool.name} failed:\n{build.stderr[-3000:]}")
        partial.replace(binary)  # only a complete binary ever has the final name
        shutil.rmtree(src, ignore_errors=True)
        print(f"[infra] built {binary} in {time.monotonic() - t0:.0f}s", file=sys.stderr, flush=True)
    return binary


def main(argv: list[str]) -> int:
    for name in argv or [*TOOLS, *LOCAL_TOOLS]:
        if name not in TOOLS and name not in LOCAL_TOOLS:
            print(f"unknown tool {name!r}: one of {', '.join([*TOOLS, *LOCAL_TOOLS])}", file=sys.stderr)
            return 2
        try:
            print(install(TOOLS[name]) if name in TOOLS else install_local(LOCAL_TOOLS[name]))
        except InfraError as exc:
            print(f"[infra] error: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
