"""Secrets at rest: argon2 for what a person types (passwords, codes), SHA-256 for random tokens.
argon2's verify compares in constant time; token digests are compared with hmac.compare_digest."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
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


def digest(token: str) -> str:
    """A random token's SHA-256 (high-entropy secrets need no slow hash)."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_digest(stored: str | None, token: str) -> bool:
    return stored is not None and hmac.compare_digest(stored, digest(token))
