"""The whole suite: how `make test` spreads it over parallel workers (pytest-xdist, `-n`, `--dist loadfile`).

Each xdist worker is a process of its own with its own session fixtures — its own Kafka and FerretDB
(`tests/integration/conftest.py`), workers, database prefix and consumer groups — so two workers share nothing but
the machine and the caches (which `infra.procs.held` serialises the first time). A test module runs whole on one
worker, in its order, with its module fixtures started once.

Three things make that fast and safe:
- the longest modules are handed out first (`LONGEST_FIRST`, measured), so the workers finish together instead of
  one of them starting the fleet test when the other is done;
- a module that loads the whole machine by design and measures what it sees under that load (`ALONE`: the fleet
  test runs 12 replicas, HAProxy, a browser, and counts a stranger's tries per minute) has the machine to itself:
  the other workers finish the test they are in and wait (a shared lock per test, an exclusive one per such module,
  and a turnstile so that the exclusive one is not starved);
- each worker takes its own slice of test ports (`DSP_PORT_SLICE`, `infra.procs.free_port`): the bind check cannot
  see a port another process has been handed but not bound yet.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# Under xdist: test modules by their time in a serial fresh-clone run (setup + calls + teardown, s), longest first;
# every module not named here keeps its place after them. Re-measure with `pytest --durations=0` when it drifts.
LONGEST_FIRST = (  # a fresh-clone run of 2026-12-08 on the 2-core machine, other jobs beside it
    "test_fleet.py",  # 326 s
    "test_chaos.py",  # 161
    "test_faults.py",  # 110
    "test_fhir_api.py",  # 97
    "test_run_command.py",  # 90
    "test_exactly_once.py",  # 84
    "test_portal_web_phone.py",  # 74
    "test_access.py",  # ~70 (342 with the first start of Kafka and FerretDB)
    "test_portal_web_documents.py",  # 63
    "test_portal_web_settings.py",  # 57
    "test_gateway.py",  # 57
    "test_workers.py",  # 55
    "test_portal_web_activation.py",  # 51
    "test_console.py",  # 45
    "test_activation_trust.py",  # 40
    "test_portal_web_pro.py",  # 38
    "test_activation.py",  # 36
    "test_break_the_glass_watch.py",  # 34
    "test_notify_api.py",  # 30
    "test_deploy_readonly.py",  # 30
)


ALONE = ("test_fleet.py",)


def pytest_configure(config: pytest.Config) -> None:
    worker, count = os.environ.get("PYTEST_XDIST_WORKER", ""), os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    if worker.startswith("gw") and count.isdigit():
        os.environ["DSP_PORT_SLICE"] = f"{int(worker[2:])}/{count}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return  # one process: the plain order
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each module's own order is kept


@contextmanager
def _locked(path: Path, how: int) -> Iterator[None]:
    with path.open("a") as held:
        fcntl.flock(held, how)
        yield


@pytest.fixture(scope="module", autouse=True)
def _the_machine_to_itself(request: pytest.FixtureRequest,
                           tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """An `ALONE` module, under xdist: the exclusive lock for the whole module (the turnstile held while waiting
    for it, so that no worker starts another test meanwhile)."""
    if "PYTEST_XDIST_WORKER" not in os.environ or request.path.name not in ALONE:
        yield
        return
    shared = tmp_path_factory.getbasetemp().parent  # the run's folder, the same for every worker
    with _locked(shared / "turnstile.lock", fcntl.LOCK_EX):
        machine = (shared / "machine.lock").open("a")
        fcntl.flock(machine, fcntl.LOCK_EX)
    try:
        yield
    finally:
        machine.close()


@pytest.fixture(autouse=True)
def _share_the_machine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Any other test, under xdist: through the turnstile, then the shared lock while it runs."""
    if "PYTEST_XDIST_WORKER" not in os.environ or request.path.name in ALONE:
        yield
        return
    shared = tmp_path_factory.getbasetemp().parent
    with _locked(shared / "turnstile.lock", fcntl.LOCK_EX):
        pass
    with _locked(shared / "machine.lock", fcntl.LOCK_SH):
        yield
