"""How software authenticates at the FHIR API (pure: keys, claims and `now` in, a verdict out).

Two ways in, both ending in a short-lived bearer token that always acts for one identified professional:

- **SMART Backend Services** (a practice's software): a client is registered by the agency with its public keys
  (a JWKS) and the professionals it may act for; it asks the token endpoint with `grant_type=client_credentials`, a
  `client_assertion` (a JWT it signed: iss = sub = its client id, aud = the token endpoint's URL, exp at most 5
  minutes ahead, a `jti` never seen before) and names the professional it acts for (`dsp_professional`, a claim of
  the assertion);
- **the professional's own identity**: the identity provider's assertion (as at `/v1/pro/login`) exchanged for a
  token (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`, `assertion=`).

Scopes are SMART's: `user/<Type>.read` (v1) or `user/<Type>.rs` (v2), `user/*.read`; only reads exist here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jwt
from jwt import PyJWK, PyJWKSet

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ALGORITHMS = ["RS384", "ES384", "EdDSA"]  # SMART asks servers for RS384 and ES384; Ed25519 too
ASSERTION_MAX_S = 300
CLOCK_SKEW_S = 30
TOKEN_TTL_S = 300
RESOURCES = ("Patient", "DocumentReference", "Binary", "DiagnosticReport", "Observation")
SCOPE = re.compile(r"^user/(\*|[A-Z][A-Za-z]+)\.(read|rs|r|s)$")


class Refused(Exception):
    """A token request refused; `reason` is safe to answer (never a secret, never the assertion)."""

    def __init__(self, reason: str, error: str = "invalid_client") -> None:
        super().__init__(reason)
        self.reason, self.error = reason, error


@dataclass(frozen=True)
class Client:
    """A registered practice's software: its id, public keys (a JWKS), who it may act for, what it may ask."""

    client_id: str
    jwks: dict[str, Any]
    professionals: frozenset[str]
    scopes: frozenset[str]


@dataclass(frozen=True)
class Grant:
    """What a token carries: the professional it acts for, the scopes granted, and by which client (or none)."""

    professional: str
    scopes: frozenset[str]
    client_id: str | None


def parse_scopes(text: str) -> frozenset[str]:
    """The requested scopes; anything that is not a read scope on a resource served here is refused."""
    scopes = frozenset(text.split())
    for scope in scopes:
        match = SCOPE.match(scope)
        if match is None or (match.group(1) != "*" and match.group(1) not in RESOURCES):
            raise Refused(f"scope {scope!r} is not offered (read scopes only: user/<Type>.read or .rs)",
                          "invalid_scope")
    if not scopes:
        raise Refused("no scope asked for", "invalid_scope")
    return scopes


def allows(scopes: frozenset[str], resource: str) -> bool:
    """Whether `scopes` let the token read `resource` (a search is a read here)."""
    return any((m := SCOPE.match(s)) is not None and m.group(1) in ("*", resource) for s in scopes)


def check_client_assertion(assertion: str, client: Client, token_url: str, now: float) -> dict[str, Any]:
    """The claims of a client assertion signed by one of `client`'s keys, for this token endpoint, fresh; else
    Refused. Single use (`jti`) is the caller's: it claims the jti with a unique insert."""
    try:
        header = jwt.get_unverified_header(assertion)
        key = _key(client.jwks, header.get("kid"))
        claims: dict[str, Any] = jwt.decode(
            assertion, key.key, algorithms=ALGORITHMS, audience=token_url, issuer=client.client_id,
            options={"require": ["iss", "sub", "aud", "exp", "jti"], "verify_exp": False, "verify_iat": False,
                     "verify_nbf": False})  # times are checked below, on the injected clock
    except Refused:
        raise
    except jwt.PyJWTError as exc:
        raise Refused(f"the client assertion is not valid ({type(exc).__name__})") from None
    if claims["sub"] != client.client_id:
        raise Refused("the client assertion's sub must be the client id")
    exp = claims["exp"]
    if not isinstance(exp, int | float) or exp <= now or exp > now + ASSERTION_MAX_S + CLOCK_SKEW_S:
        raise Refused("the client assertion must expire within 5 minutes")
    if not isinstance(claims["jti"], str) or not 8 <= len(claims["jti"]) <= 255:
        raise Refused("the client assertion needs a jti")
    return claims


def client_grant(claims: dict[str, Any], client: Client, scope: str) -> Grant:
    """What a verified client assertion may have: the professional it names (one the client may act for) and the
    scopes asked for, within those registered."""
    professional = claims.get("dsp_professional")
    if not isinstance(professional, str) or professional not in client.professionals:
        raise Refused("name a professional this client may act for (claim dsp_professional)", "invalid_grant")
    asked = parse_scopes(scope)
    if not asked <= client.scopes:
        raise Refused("a scope asked for is not registered for this client", "invalid_scope")
    return Grant(professional, asked, client.client_id)


def _key(jwks: dict[str, Any], kid: object) -> PyJWK:
    keys = PyJWKSet.from_dict(jwks).keys
    matching = [k for k in keys if kid is None or k.key_id == kid]
    if kid is None and len(keys) != 1:
        raise Refused("the client assertion must name its key (kid)")
    if not matching:
        raise Refused("the client assertion's key is not registered")
    return matching[0]
