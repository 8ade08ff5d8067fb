"""Secrets at rest: argon2id for what a person chooses or keeps (passwords, letter codes, presence passwords),
a keyed HMAC for short-lived one-time codes, SHA-256 for random tokens. Every comparison is constant-time.

argon2id at one of OWASP's five minimum settings, which it rates "an equal level of defense", trading memory for
passes: 7 MiB, 5 passes, 1 lane. Measured here (2 threads, 2 cores): 104 verifications/s, against 81/s for
19 MiB/2 passes, 97/s for 12 MiB/3, 101/s for 9 MiB/4 (~150-250 ms each with argon2-cffi's defaults of 64 MiB,
3 passes, 4 lanes) — on two cores the memory traffic is what a verification waits for. A hash made with other
parameters (the 19 MiB ones stored before) still verifies, and `needs_rehash` tells the caller to store a new one."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

hasher = PasswordHasher(time_cost=5, memory_cost=7 * 1024, parallelism=1)  # argon2id, OWASP's m=7 MiB, t=5, p=1
_hasher = hasher  # the one argon2 wrapper of the mesh: every argon2 hash and verification goes through this module
_dummy: list[str] = []  # an argon2 hash of a random value: a guess against nothing costs as much as a real one
NICENESS = 10  # added to the niceness: argon2's threads yield the cores to the event loop, the database and the broker
T = TypeVar("T")


def _lower_priority() -> None:
    """Linux schedules threads one by one: this one (an argon2 thread) runs when nothing more urgent waits, so a
    login burst's memory-hard work no longer starves the event loop answering the steps that need no argon2."""
    try:
        me = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, me, min(19, os.getpriority(os.PRIO_PROCESS, me) + NICENESS))
    except (AttributeError, OSError):  # not Linux, or not allowed: the default priority
        pass


_pool = ThreadPoolExecutor(min(32, (os.cpu_count() or 1) + 4), "argon2", initializer=_lower_priority)


async def _off_loop(work: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(_pool, work)


async def hash_secret(secret: str) -> str:
    return await _off_loop(lambda: _hasher.hash(secret))


async def matches(stored_hash: str | None, typed: str) -> bool:
    """Never raises on a wrong or malformed guess; runs argon2 off the event loop. Without a stored hash it
    still verifies (against a dummy) and answers False, so that timing does not tell the two apart."""
    if not _dummy:
        _dummy.append(await hash_secret(secrets.token_urlsafe(16)))
    against = stored_hash or _dummy[0]

    def verify() -> bool:
        try:
            return _hasher.verify(against, typed)
        except (VerificationError, InvalidHashError):
            return False

    right = await _off_loop(verify)
    return bool(stored_hash) and right


def needs_rehash(stored_hash: str | None) -> bool:
    """The hash was made with other parameters (e.g. argon2-cffi's defaults): store a new one at the next login."""
    try:
        return bool(stored_hash) and hasher.check_needs_rehash(stored_hash or "")
    except InvalidHashError:
        return False


def keyed(key: bytes, *parts: str) -> str:
    """HMAC-SHA256 of `parts` under a server key: for short-lived, few-tries codes (one-time codes)."""
    return hmac.new(key, "|".join(parts).encode(), hashlib.sha256).hexdigest()


def same_keyed(stored: str | None, key: bytes, *parts: str) -> bool:
    return stored is not None and hmac.compare_digest(stored, keyed(key, *parts))


def digest(token: str) -> str:
    """A random token's SHA-256 (high-entropy secrets need no slow hash)."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_digest(stored: str | None, token: str) -> bool:
    return stored is not None and hmac.compare_digest(stored, digest(token))
