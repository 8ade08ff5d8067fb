"""`make run REPLICAS=2`'s HAProxy configuration (infra.fleet): one frontend per public port, one backend per
service with every replica, health-checked on /health/ready, retried on the other replica, the answering replica
named; checked by HAProxy itself (`haproxy -c`), which `make test` installs (`make haproxy`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infra import fleet
from infra.procs import InfraError

FRONTS = {"gateway": 8100, "records": 8101, "activation": 8102, "access": 8103, "notify": 8104, "console": 8105}


def test_replicas_come_from_the_environment_and_are_bounded() -> None:
    assert fleet.replicas_from_env({}) == 1
    assert fleet.replicas_from_env({"DSP_REPLICAS": "2"}) == 2
    for bad in ("0", "10", "two"):
        with pytest.raises(InfraError, match="DSP_REPLICAS"):
            fleet.replicas_from_env({"DSP_REPLICAS": bad})


def test_each_replica_has_its_own_port_and_name() -> None:
    ports = fleet.replica_ports(2, 8200)
    assert ports["gateway"] == [8201, 8202] and ports["console"] == [8251, 8252]
    every = [p for numbers in ports.values() for p in numbers]
    assert len(set(every)) == len(every) == 12 and not set(every) & set(FRONTS.values())
    assert [fleet.replica_name("records", r) for r in (1, 2)] == ["records", "records-2"]


def test_the_configuration_balances_checks_retries_and_names_the_replica(tmp_path: Path) -> None:
    config = fleet.haproxy_config(FRONTS, fleet.replica_ports(2, 8200))
    for directive in ("retry-on all-retryable-errors", "option redispatch 1", "balance roundrobin",
                      "http-check send meth GET uri /health/ready",
                      "http-response set-header X-DSP-Replica %[srv_name]"):
        assert directive in config
    for service, port in FRONTS.items():
        assert f"bind 127.0.0.1:{port}" in config and f"backend {service}" in config
    assert "server records-2 127.0.0.1:8212" in config and "server records 127.0.0.1:8211" in config
    assert config.count("option forwardfor") == 1  # the gateway's rate limits count the client, not HAProxy
    assert config.count("http-request disable-l7-retry if !METH_GET") == 1  # a portal command is not repeated
    binary = fleet.haproxy_binary()  # `make test` installs it (make haproxy)
    written = fleet.write_config(tmp_path, FRONTS, fleet.replica_ports(2, 8200))
    checked = subprocess.run([binary, "-c", "-f", str(written)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
