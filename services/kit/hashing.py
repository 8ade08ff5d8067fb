"""Secrets at rest: argon2 for what a person types (passwords, codes), SHA-256 for random tokens.
argon2's verify compares in constant time; token digests are compared with hmac.compare_digest."""

from __future__ import annotations

import asyncio
import hashlib
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


async def hash_secret(secret: str) -> str:
    return await asyncio.to_thread(_hasher.hash, secret)


async def matches(stored_hash: str | None, typed: str) -> bool:
    """Never raises on a wrong or malformed guess; runs argon2 off the event loop."""
    if not stored_hash:
        return False

    def verify() -> bool:
        try:
            return _hasher.verify(stored_hash, typed)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


def digest(token: str) -> str:
    """A random token's SHA-256 (high-entropy secrets need no slow hash)."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_digest(stored: str | None, token: str) -> bool:
    return stored is not None and hmac.compare_digest(stored, digest(token))
