"""Secrets at rest (services.kit.hashing): the argon2 parameters, old hashes, and argon2's low-priority threads."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import pytest
from argon2 import PasswordHasher

from services.kit import hashing


def test_new_hashes_use_owasps_7_mib_5_passes_and_older_ones_verify_and_ask_for_a_rehash() -> None:
    fresh = asyncio.run(hashing.hash_secret("Vianden-Bridge-2033"))
    assert fresh.startswith("$argon2id$v=19$m=7168,t=5,p=1$") and not hashing.needs_rehash(fresh)
    older = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1).hash("Vianden-Bridge-2033")
    assert asyncio.run(hashing.matches(older, "Vianden-Bridge-2033")) and hashing.needs_rehash(older)
    assert not asyncio.run(hashing.matches(fresh, "Vianden-Bridge-2034"))
    assert not asyncio.run(hashing.matches(None, "Vianden-Bridge-2033"))  # no account: a dummy verified, False
    assert not asyncio.run(hashing.matches("not a hash", "x")) and not hashing.needs_rehash("not a hash")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness is Linux's")
def test_argon2_runs_on_threads_that_yield_to_the_event_loop() -> None:
    def niceness() -> tuple[int, str]:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), threading.current_thread().name

    async def on_the_pool() -> tuple[int, str]:
        return await hashing._off_loop(niceness)

    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    nice, name = asyncio.run(on_the_pool())
    assert name.startswith("argon2") and nice == min(19, base + hashing.NICENESS)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base  # the caller's own is untouched
