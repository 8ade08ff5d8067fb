"""Every bench module imports (a bench is run by hand, not by the suite: a name moved elsewhere broke
`make bench-login` unnoticed once)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import bench

MODULES = sorted(m.name for m in pkgutil.walk_packages(bench.__path__, "bench."))


def test_every_bench_is_found() -> None:
    assert {"bench.ingest.__main__", "bench.login.__main__", "bench.search.__main__", "bench.access.http",
            "bench.access.versus", "bench.chaos.__main__", "bench.portal.__main__"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_the_bench_module_imports(name: str) -> None:
    assert importlib.import_module(name) is not None
