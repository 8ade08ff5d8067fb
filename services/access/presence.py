"""Presence passwords ("mot de passe de présence"): generated, shown once, stored as argon2 hashes (the kit's one
wrapper, off the event loop). Wrong guesses are counted per sliding hour under two keys: per professional per
patient (5 at most) and per patient's password from all professionals together (10 at most; a new password starts
its own count, so the patient present can always make one). The alphabet and the shown form are the contract's
(`schemas.access.PRESENCE_ALPHABET`, `PRESENCE_PATTERN`)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from schemas.access import PRESENCE_ALPHABET as ALPHABET
from services.kit import hashing

LENGTH = 8
MAX_TRIES, WINDOW = 5, timedelta(hours=1)  # wrong guesses per professional per patient, per sliding hour
PATIENT_MAX_TRIES = 10  # wrong guesses on one patient's password from all professionals, per sliding hour
TELL_PATIENT_AT = 3  # the patient is told at this wrong guess in the hour, and at PATIENT_MAX_TRIES


def professional_key(professional: str, patient: str) -> str:
    """The counter of one professional's wrong guesses on one patient."""
    return f"{professional}|{patient}"


def patient_key(patient: str, presence_hash: str | None) -> str:
    """The counter of every professional's wrong guesses on the patient's current password: a digest of its stored
    hash (never the hash itself) tells one password from the next."""
    current = hashlib.sha256((presence_hash or "").encode()).hexdigest()[:16]
    return f"{patient}|password-{current}"


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
