"""Presence passwords ("mot de passe de présence"), the rules: how long one is and how a typed one is read, and the
caps on wrong guesses (generating, hashing and checking one is the presence use case's, `service/presence.py`).
Wrong guesses are counted per sliding hour under two keys: per professional per patient (5 at most) and per
patient's password from all professionals together (10 at most; a new password starts its own count, so the
patient present can always make one). The alphabet and the shown form are the contract's
(`schemas.access.PRESENCE_ALPHABET`, `PRESENCE_PATTERN`). Pure."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from schemas.access import PRESENCE_ALPHABET

ALPHABET = PRESENCE_ALPHABET  # the contract's 31 letters (no 0/O, 1/I/L)
LENGTH = 8  # characters of ALPHABET (~40 bits), shown as XXXX-XXXX
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


def normalize(typed: str) -> str:
    plain = typed.upper().replace("-", "").replace(" ", "")
    return f"{plain[:4]}-{plain[4:]}"
