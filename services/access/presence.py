"""Presence passwords ("mot de passe de présence"): generated, shown once, stored as argon2 hashes, guessed
at most 5 times per professional per patient per hour. Time comes in from the caller (injectable clock)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from argon2.exceptions import InvalidHashError, VerificationError

from services.kit.hashing import hasher as _hasher

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud at a practice's front desk
LENGTH = 8
MAX_TRIES, WINDOW = 5, timedelta(hours=1)


def generate() -> str:
    """8 characters from a 31-letter alphabet (~40 bits), shown as XXXX-XXXX."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalize(typed: str) -> str:
    plain = typed.upper().replace("-", "").replace(" ", "")
    return f"{plain[:4]}-{plain[4:]}"


def hash_password(password: str) -> str:
    return _hasher.hash(normalize(password))


def matches(stored_hash: str, typed: str) -> bool:
    """argon2 verification (its comparison is constant-time); never raises on a wrong guess."""
    try:
        return _hasher.verify(stored_hash, normalize(typed))
    except (VerificationError, InvalidHashError):
        return False
