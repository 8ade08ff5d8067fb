"""The gateway's service token, checked once rather than once per decision: `services.kit.servicetokens.
RememberingVerifier` (records' door uses it too)."""

from __future__ import annotations

from services.kit.servicetokens import REMEMBERED, RememberingVerifier

__all__ = ["REMEMBERED", "RememberingVerifier"]
