"""The local infrastructure tool: idempotent up, clean down, clear errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from infra import ferretdb, kafka
from infra.local import LocalInfra
from infra.procs import InfraError, free_port, port_open, read_pid
from tests.support import ROOT


def fresh(tmp_path: Path) -> LocalInfra:
    return LocalInfra(state_dir=tmp_path / "state", kafka_port=free_port(), controller_port=free_port(),
                      mongo_port=free_port())


def test_up_is_idempotent_and_down_leaves_no_process(tmp_path: Path) -> None:
    infra = fresh(tmp_path)
    try:
        infra.up()
        pids = {p: read_pid(infra.state_dir / "run" / f"{p}.pid") for p in ("kafka", "ferretdb")}
        again = infra.up()
        assert again["ferretdb"] < 1 and again["kafka"] < 10  # nothing restarted: just a topic check
        assert {p: read_pid(infra.state_dir / "run" / f"{p}.pid") for p in pids} == pids
        assert infra.status() == {"kafka": f"running on {infra.kafka.bootstrap}",
                                  "ferretdb": f"running on {infra.ferret.uri}"}
    finally:
        stopped = infra.down()
    assert sorted(stopped) == ["ferretdb", "kafka"]
    for pid in pids.values():
        assert pid is not None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not port_open(infra.kafka_port) and not port_open(infra.mongo_port)
    assert infra.down() == []  # down twice is fine


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        infra = fresh(tmp_path)
        infra.mongo_port = infra.ferret.port = squatter.getsockname()[1]
        with pytest.raises(InfraError, match=f"port {infra.mongo_port} is taken"):
            infra.ferret.start()


def test_missing_java_or_go_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # neither java nor go on it
    with pytest.raises(InfraError, match=r"Java 17\+ is required"):
        kafka.KafkaNode(tmp_path, tmp_path, free_port(), free_port()).start()
    with pytest.raises(InfraError, match=r"Go \(>= 1\.24\) is required"):
        ferretdb.install(tmp_path / "empty-cache")


def test_cli_status_and_env(tmp_path: Path) -> None:
    env = {**os.environ, "DSP_STATE_DIR": str(tmp_path), "DSP_KAFKA_PORT": "29999", "DSP_MONGO_PORT": "29998"}
    status = subprocess.run([sys.executable, "-m", "infra", "status"], cwd=ROOT, env=env, capture_output=True,
                            text=True, check=True)
    assert status.stdout.splitlines() == ["kafka: stopped", "ferretdb: stopped"]
    exports = subprocess.run([sys.executable, "-m", "infra", "env"], cwd=ROOT, env=env, capture_output=True,
                             text=True, check=True)
    assert exports.stdout.splitlines() == ["export DSP_KAFKA_BOOTSTRAP=127.0.0.1:29999",
                                           "export DSP_MONGO_URI=mongodb://127.0.0.1:29998/"]
