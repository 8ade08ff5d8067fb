"""Presence passwords ("mot de passe de présence"): generated, shown once, stored as argon2 hashes (the kit's one
wrapper, off the event loop), guessed at most 5 times per professional per patient per hour. The alphabet and the
shown form are the contract's (`schemas.access.PRESENCE_ALPHABET`, `PRESENCE_PATTERN`)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from schemas.access import PRESENCE_ALPHABET as ALPHABET
from services.kit import hashing

LENGTH = 8
MAX_TRIES, WINDOW = 5, timedelta(hours=1)


def generate() -> str:
    """8 characters from a 31-letter alphabet (~40 bits), shown as XXXX-XXXX."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalize(typed: str) -> str:
    plain = typed.upper().replace("-", "").replace(" ", "")
    return f"{plain[:4]}-{plain[4:]}"


async def hash_password(password: str) -> str:
    return await hashing.hash_secret(normalize(password))


async def matches(stored_hash: str | None, typed: str) -> bool:
    """argon2 verification off the event loop (constant-time); never raises on a wrong guess or a bad hash."""
    return await hashing.matches(stored_hash, normalize(typed))
