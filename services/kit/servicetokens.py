"""Service-to-service authentication on the internal HTTP APIs: the caller proves which service it is with a
short-lived JWT signed with its own Ed25519 key (PyJWT, EdDSA); the callee checks it against the mesh's public
keys, its own name as the audience, and its per-route list of allowed callers.

- `DSP_SERVICE_KEY`: this service's private key (base64 of the 32-byte seed), a secret;
- `DSP_SERVICE_PUBLIC_KEYS`: `name=base64,...` — every service's public key (not secret).
Tokens live 2 minutes (at most 5 are accepted), carry `iss` (the caller), `aud` (the callee), `iat`, `exp`;
a caller signs one per audience and reuses it for a minute. `python -m services.kit.servicetokens NAME...`
prints a key pair per service, as environment lines, for operators."""

from __future__ import annotations

import base64
import contextvars
import sys
import time
from collections.abc import Callable, Generator, Iterable
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

LIFETIME_S, MAX_LIFETIME_S, REUSE_S, LEEWAY_S = 120, 300, 60, 10
calling_service: contextvars.ContextVar[str | None] = contextvars.ContextVar("calling_service", default=None)


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def private_key(seed_b64: str) -> Ed25519PrivateKey:
    try:
        seed = base64.b64decode(seed_b64.strip(), validate=True)
        return Ed25519PrivateKey.from_private_bytes(seed)
    except ValueError:
        raise ValueError("is not a base64 Ed25519 private key (32 bytes)") from None


def public_b64(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def new_key() -> tuple[str, str]:
    """(private seed, public key), base64."""
    key = Ed25519PrivateKey.generate()
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return base64.b64encode(seed).decode(), public_b64(key)


def parse_public_keys(text: str) -> dict[str, Ed25519PublicKey]:
    keys: dict[str, Ed25519PublicKey] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        try:
            keys[name.strip()] = Ed25519PublicKey.from_public_bytes(base64.b64decode(value.strip(), validate=True))
        except ValueError:
            raise ValueError(f"the public key of {name.strip()!r} is not a base64 Ed25519 key") from None
    return keys


class Signer:
    """Signs this service's tokens, one per audience, renewed every minute."""

    def __init__(self, service: str, seed_b64: str, clock: Callable[[], float] = time.time) -> None:
        self.service, self.key, self.clock = service, private_key(seed_b64), clock
        self._cache: dict[str, tuple[float, str]] = {}

    def token(self, audience: str) -> str:
        now = self.clock()
        cached = self._cache.get(audience)
        if cached and now - cached[0] < REUSE_S:
            return cached[1]
        token = jwt.encode({"iss": self.service, "aud": audience, "iat": int(now), "exp": int(now) + LIFETIME_S},
                           self.key, algorithm="EdDSA")
        self._cache[audience] = (now, token)
        return token

    def assertion(self, audience: str, subject: str, **claims: str) -> str:
        """A one-off signed statement for `audience`, e.g. which authenticated operator issued a command."""
        now = int(self.clock())
        return jwt.encode({"iss": self.service, "aud": audience, "sub": subject, "iat": now, "exp": now + LIFETIME_S,
                           **claims}, self.key, algorithm="EdDSA")


class ServiceAuth(httpx.Auth):
    """httpx: every request to `audience` carries this service's bearer token."""

    def __init__(self, signer: Signer, audience: str) -> None:
        self.signer, self.audience = signer, audience

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.signer.token(self.audience)}"
        yield request


class Verifier:
    """Checks a caller's token: signed by a known service, for this service, fresh, short-lived."""

    def __init__(self, service: str, public_keys: dict[str, Ed25519PublicKey],
                 clock: Callable[[], float] = time.time) -> None:
        self.service, self.keys, self.clock = service, public_keys, clock

    def caller(self, authorization: str | None, allowed: Iterable[str]) -> str:
        """The calling service, or Refused(401 unknown or bad credential / 403 a service not allowed here)."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Refused(401, "a service credential is needed (Authorization: Bearer <service token>)")
        return str(self.claims(token, allowed)["iss"])

    def claims(self, token: str, allowed: Iterable[str]) -> dict[str, Any]:
        """The claims of a token or assertion signed by one of the `allowed` services for this one, or Refused."""
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
            key = self.keys.get(issuer) if isinstance(issuer, str) else None
            if key is None:
                raise Refused(401, "unknown calling service")
            claims = jwt.decode(token, key, algorithms=["EdDSA"], audience=self.service, leeway=LEEWAY_S,
                                options={"require": ["iss", "aud", "iat", "exp"], "verify_iat": False})
        except jwt.PyJWTError:
            raise Refused(401, "the service credential is not valid (signature, audience or expiry)") from None
        now = self.clock()
        if claims["exp"] - claims["iat"] > MAX_LIFETIME_S or claims["iat"] > now + LEEWAY_S or claims["exp"] < now:
            raise Refused(401, "the service credential is not valid (lifetime)")
        if issuer not in set(allowed):
            raise Refused(403, f"service {issuer} may not call this API")
        return dict(claims)


REMEMBERED = 1024  # distinct tokens a RememberingVerifier keeps (each caller renews its token once a minute)


class RememberingVerifier(Verifier):
    """A caller's service token checked once rather than once per request (every service's door:
    `settings.ServiceSettings.door`): a signer reuses one token per audience for a minute, so the same bytes
    arrive on thousands of calls, and checking an Ed25519 signature with PyJWT was the largest single cost of an
    access decision (about 30% of the worker's CPU under load, py-spy). The
    signature, issuer, audience and lifetime of the exact token string are checked once; a token seen before is
    trusted again only until it expires, and the caller is checked against each route's allowed callers every
    time."""

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


def main(names: list[str]) -> int:
    public = []
    for name in names:
        seed, pub = new_key()
        print(f"DSP_SERVICE_KEY_{name.upper()}={seed}")  # give it to that service as DSP_SERVICE_KEY
        public.append(f"{name}={pub}")
    print(f"DSP_SERVICE_PUBLIC_KEYS={','.join(public)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["gateway", "console", "access", "activation", "records", "notify"]))
