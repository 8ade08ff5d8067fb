"""The FHIR `Patient` id: opaque, and reversible by the gateway alone.

A FHIR client puts a patient's id in URLs (`DocumentReference?patient=Patient/<id>`); a matricule must never be in a
URL (proxies and servers log them). The id is the matricule under deterministic authenticated encryption (AES-SIV,
RFC 5297, from `cryptography`) with a key derived from the gateway's portal key — the same on every gateway replica —
written in lowercase base32: the same patient always has the same id, nobody without the key can read it, a
forged or altered id does not decrypt (a 404, like an unknown patient)."""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from schemas.fields import check_matricule


class PatientIds:
    def __init__(self, key: bytes) -> None:
        self._siv = AESSIV(hmac.new(key, b"dsp-mesh fhir patient ids", hashlib.sha512).digest())  # 512 bits

    def of(self, matricule: str) -> str:
        sealed = self._siv.encrypt(matricule.encode(), [b"Patient"])
        return base64.b32encode(sealed).decode().rstrip("=").lower()

    def matricule(self, pid: str) -> str | None:
        """The matricule behind a FHIR Patient id, or None (not one of ours, altered, or malformed)."""
        text = pid.strip().upper()
        if not text or len(text) > 64 or not text.isalnum():
            return None
        try:
            plain = self._siv.decrypt(base64.b32decode(text + "=" * (-len(text) % 8)), [b"Patient"]).decode()
            check_matricule(plain)
        except (InvalidTag, ValueError, UnicodeDecodeError):
            return None
        return plain
