"""The gateway's service token, checked once rather than once per decision.

The gateway signs one token per audience and reuses it for a minute (`services.kit.servicetokens`), so the same
bytes arrive on thousands of decisions; checking an Ed25519 signature with PyJWT was the largest single cost of a
decision (about 30% of the worker's CPU under load, py-spy). The signature, issuer, audience and lifetime of the
exact token string are checked once; a token seen before is trusted again only until it expires, and the caller
is checked against each route's allowed callers every time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from services.kit.servicetokens import Refused, Verifier

REMEMBERED = 1024  # distinct tokens kept (each caller renews its token once a minute)


class RememberingVerifier(Verifier):
    def __init__(self, verifier: Verifier) -> None:
        super().__init__(verifier.service, verifier.keys, verifier.clock)
        self._verified: dict[str, dict[str, Any]] = {}

    def claims(self, token: str, allowed: Iterable[str]) -> dict[str, Any]:
        claims = self._verified.get(token)
        if claims is None or claims["exp"] < self.clock():
            self._verified.pop(token, None)
            claims = super().claims(token, self.keys)  # any known service: the route's callers are checked below
            if len(self._verified) >= REMEMBERED:
                self._verified.clear()
            self._verified[token] = claims
        if claims["iss"] not in set(allowed):
            raise Refused(403, f"service {claims['iss']} may not call this API")
        return dict(claims)
