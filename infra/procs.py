"""Process helpers for the local infrastructure: pid files, ports, readiness, clean stop."""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class InfraError(RuntimeError):
    """A clear, user-facing reason why the infrastructure cannot start."""


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


_HANDED_OUT: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _port_slice() -> tuple[int, int]:
    """`DSP_PORT_SLICE=i/n`: this process picks only ports p with p % n == i. Parallel test workers (pytest-xdist)
    each take their own slice, so two of them never hand out the same port in the moment before its server binds
    it (the bind check below cannot see a port handed out but not yet bound by another process)."""
    index, _, count = os.environ.get("DSP_PORT_SLICE", "0/1").partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        return 0, 1
    return (i, n) if 0 <= i < n else (0, 1)


@contextmanager
def held(lock_file: Path) -> Iterator[None]:
    """An exclusive lock on `lock_file` (made if missing) while the block runs: processes filling the same cache
    (parallel test workers, a bench beside a test run) wait for each other instead of building or fetching the
    same thing at once (Maven's local repository and a half-written binary are not safe to share)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def free_port() -> int:
    """A port free now, below the kernel's ephemeral range and never handed out before by this process: a port
    from `bind(0)` is an ephemeral one, which an outgoing connection (a Kafka client's) may take before the
    server meant for it binds it (seen in CI: `address already in use`)."""
    low = _ephemeral_low()
    index, count = _port_slice()
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)  # noqa: S311 - a test port, not a secret
        port -= (port - index) % count  # this process's share of the band: parallel test workers never pick alike
        if port in _HANDED_OUT or port < 1024:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    with socket.socket() as sock:  # that band is full: any free port
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return None if _zombie(pid) else pid


def _zombie(pid: int) -> bool:
    """Exited, not yet reaped by the parent that started it (e.g. `make run` seen from `make down`).

    A multi-threaded process (the JVM, Go) whose main thread has exited while its other threads are still tearing
    down also shows "Z": that one is still exiting (ports may be held), so it counts as running until one thread
    is left.
    """
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        fields = dict(line.split(":", 1) for line in lines if ":" in line)
    except OSError:
        return False
    return fields.get("State", "").strip().startswith("Z") and fields.get("Threads", "1").strip() == "1"


def spawn(name: str, argv: list[str], run_dir: Path, env: dict[str, str] | None = None,
          die_with_parent: bool = False) -> int:
    """Start `argv` in its own session, logging to <run_dir>/<name>.log; returns the pid. `die_with_parent`:
    the kernel sends it SIGTERM when this process ends, however it ends (a test run killed or crashed leaves no
    broker or database behind); else it outlives its starter (`make infra`, `make run`)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log = (run_dir / f"{name}.log").open("ab")
    proc = subprocess.Popen(  # noqa: S603 - argv is built by this package, never from input
        argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True, env={**os.environ, **(env or {})},
        preexec_fn=_ending_with(os.getpid()) if die_with_parent else None,  # only calls prctl: see _ending_with
    )
    (run_dir / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


def _ending_with(parent: int) -> Callable[[], None] | None:
    """What the child runs between fork and exec to end with `parent` (Linux's PR_SET_PDEATHSIG, kept across exec).
    libc and its prctl are looked up here, before the fork: the child only calls them."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).prctl

    def tie() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent ended before the tie was made
            os.kill(os.getpid(), signal.SIGTERM)
    return tie


def wait_port(port: int, timeout: float, pid_file: Path, log_file: Path) -> float:
    """Wait until `port` accepts connections; fail early if the process died. Returns seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if port_open(port):
            return time.monotonic() - start
        if read_pid(pid_file) is None:
            tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
            raise InfraError(f"{pid_file.stem} exited during start-up; last log lines:\n{tail}")
        time.sleep(0.1)
    raise InfraError(f"{pid_file.stem} did not open port {port} within {timeout:.0f}s (see {log_file})")


def stop(pid_file: Path, timeout: float = 30.0) -> bool:
    """SIGTERM the process group, SIGKILL after `timeout`; True if something was running."""
    pid = read_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and read_pid(pid_file) is not None:
        _reap(pid)
        time.sleep(0.1)
    if read_pid(pid_file) is not None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        time.sleep(0.2)
    _reap(pid, wait=5.0)  # our own child: gone now, not a zombie (another process's child is reaped by its parent)
    pid_file.unlink(missing_ok=True)
    return True


def _reap(pid: int, wait: float = 0.0) -> None:
    """Collect our exited child `pid`, waiting up to `wait` seconds for it to become collectable."""
    deadline = time.monotonic() + wait
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not ours, or already collected
            return
        if done or time.monotonic() >= deadline:
            return
        time.sleep(0.05)
