"""The LuxTrust verifier the steps and the login call (the platform's default, which refuses, is in `app.py`)."""

from __future__ import annotations

from typing import Protocol


class LuxTrust(Protocol):
    """Verifies a LuxTrust assertion for a matricule (the real service is out of reach here)."""

    async def verify(self, assertion: str, matricule: str) -> bool: ...
