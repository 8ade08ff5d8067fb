"""infra.procs: servers a test run or a bench starts end with it, however it ends; `make run`'s outlive make."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from infra.procs import free_port, held, read_pid

STARTER = """
import sys, time
from pathlib import Path
from infra.procs import spawn
run = Path(sys.argv[1])
tied = spawn("tied", ["sleep", "120"], run, die_with_parent=True)
free = spawn("free", ["sleep", "120"], run)
print(tied, free, flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_tied_server_ends_when_its_starter_is_killed_an_untied_one_does_not(tmp_path: Path) -> None:
    starter = subprocess.Popen([sys.executable, "-c", STARTER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                               cwd=Path(__file__).resolve().parents[2])
    try:
        assert starter.stdout is not None
        tied, free = (int(pid) for pid in starter.stdout.readline().split())
        assert read_pid(tmp_path / "tied.pid") == tied and read_pid(tmp_path / "free.pid") == free
        os.kill(starter.pid, signal.SIGKILL)  # no clean-up code runs: only the kernel can end the tied one
        starter.wait(10)
        deadline = time.monotonic() + 10
        while read_pid(tmp_path / "tied.pid") is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert read_pid(tmp_path / "tied.pid") is None
        assert read_pid(tmp_path / "free.pid") == free  # `make infra`'s servers outlive the command
    finally:
        for name in ("tied", "free"):
            pid = read_pid(tmp_path / f"{name}.pid")
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
        starter.kill()


@pytest.mark.parametrize("share", ["0/2", "1/2", "2/3"])
def test_parallel_test_workers_hand_out_ports_from_their_own_slices(share: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSP_PORT_SLICE", share)
    index, count = map(int, share.split("/"))
    assert {free_port() % count for _ in range(50)} == {index}


def test_a_cache_fill_waits_for_the_one_already_filling(tmp_path: Path) -> None:
    lock, order = tmp_path / "cache" / ".fill.lock", []

    def second() -> None:
        with held(lock):
            order.append("second")

    with held(lock):
        waiting = threading.Thread(target=second)
        waiting.start()
        waiting.join(0.2)
        assert waiting.is_alive() and order == []  # the other filler is blocked while this one holds the lock
        order.append("first")
    waiting.join(5)
    assert order == ["first", "second"]
