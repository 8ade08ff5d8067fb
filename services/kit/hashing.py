"""Secrets at rest: argon2id for what a person chooses or keeps (passwords, letter codes, presence passwords),
a keyed HMAC for short-lived one-time codes, SHA-256 for random tokens. Every comparison is constant-time.

argon2id at OWASP's minimum (19 MiB, 2 passes, 1 lane: ~25 ms a verification here, against ~150-250 ms with
argon2-cffi's defaults of 64 MiB, 3 passes, 4 lanes), so that a login burst is served on two cores; a hash made
with other parameters still verifies, and `needs_rehash` tells the caller to store a new one."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)  # argon2id, OWASP's minimum
_hasher = hasher  # the one argon2 wrapper of the mesh: every argon2 hash and verification goes through this module
_dummy: list[str] = []  # an argon2 hash of a random value: a guess against nothing costs as much as a real one


async def hash_secret(secret: str) -> str:
    return await asyncio.to_thread(_hasher.hash, secret)


async def matches(stored_hash: str | None, typed: str) -> bool:
    """Never raises on a wrong or malformed guess; runs argon2 off the event loop. Without a stored hash it
    still verifies (against a dummy) and answers False, so that timing does not tell the two apart."""
    if not _dummy:
        _dummy.append(await asyncio.to_thread(_hasher.hash, secrets.token_urlsafe(16)))
    against = stored_hash or _dummy[0]

    def verify() -> bool:
        try:
            return _hasher.verify(against, typed)
        except (VerificationError, InvalidHashError):
            return False

    right = await asyncio.to_thread(verify)
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
