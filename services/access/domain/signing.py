"""access's audit signing key (Ed25519, `DSP_ACCESS_AUDIT_SIGNING_KEY`, a secret like the service keys): it signs
each checkpoint of a chain's head (a compact JWS, EdDSA) and a patient's exported trail (a detached JWS, RFC 7515
appendix F, over the export's canonical JSON); its public half is published as a JWKS (RFC 7517), the key named
by its RFC 7638 thumbprint. Pure (PyJWT, cryptography): `verify_export` checks a download with it offline.
`python -m services.access.signing` prints a new key as an environment line (compose's `.env`)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .audit import Checkpoint, Head

ALG = "EdDSA"
ISSUER = "access"
CHECKPOINT_TYPE = "dsp-audit-head+jwt"
EXPORT_TYPE = "dsp-audit-export+jws"
_JWS = jwt.PyJWS(algorithms=[ALG])


class BadSignature(ValueError):
    """The signature does not hold (altered content, another key, not a JWS); the message never quotes it."""


def canonical(document: Mapping[str, Any]) -> bytes:
    """The bytes a document is signed over: its JSON with sorted keys, no spaces, UTF-8 (any re-indented copy of
    the same content gives the same bytes; any changed value does not)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk(public: Ed25519PublicKey) -> dict[str, str]:
    """The public key as a JWK, its `kid` the RFC 7638 thumbprint (SHA-256 of its required members)."""
    x = _b64url(public.public_bytes(Encoding.Raw, PublicFormat.Raw))
    thumbprint = _b64url(hashlib.sha256(canonical({"crv": "Ed25519", "kty": "OKP", "x": x})).digest())
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": thumbprint, "alg": ALG, "use": "sig"}


def public_keys(jwks: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    """kid → key, from a JWKS (its Ed25519 keys; anything else is left out)."""
    found: dict[str, Ed25519PublicKey] = {}
    for key in jwks.get("keys", []):
        if not isinstance(key, dict) or key.get("kty") != "OKP" or key.get("crv") != "Ed25519":
            continue
        try:
            raw = base64.urlsafe_b64decode(str(key["x"]) + "=" * (-len(str(key["x"])) % 4))
            found[str(key.get("kid", ""))] = Ed25519PublicKey.from_public_bytes(raw)
        except (KeyError, ValueError):
            continue
    return found


def _key_for(header_kid: Any, keys: Mapping[str, Ed25519PublicKey]) -> Ed25519PublicKey:
    key = keys.get(header_kid) if isinstance(header_kid, str) else None
    if key is None:
        raise BadSignature("signed with a key that is not in the published key set")
    return key


def private_key(seed_b64: str) -> Ed25519PrivateKey:
    """The key from its base64 seed (`DSP_ACCESS_AUDIT_SIGNING_KEY`, made like the service keys)."""
    try:
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed_b64.strip(), validate=True))
    except ValueError:
        raise ValueError("is not a base64 Ed25519 private key (32 bytes)") from None


class AuditSigner:
    """Signs with access's audit key; `jwks` is what the gateway publishes."""

    def __init__(self, seed_b64: str) -> None:
        self.key = private_key(seed_b64)
        self.public = self.key.public_key()
        self.kid = jwk(self.public)["kid"]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [jwk(self.public)]}

    def checkpoint(self, pseudonym: str, head: Head, at: int) -> Checkpoint:
        """access's signed statement that the chain named `pseudonym` reached `head` at `at` (epoch seconds)."""
        claims = {"iss": ISSUER, "sub": pseudonym, "seq": head.seq, "hash": head.hash, "iat": at}
        token = jwt.encode(claims, self.key, algorithm=ALG, headers={"kid": self.kid, "typ": CHECKPOINT_TYPE})
        return Checkpoint(head.seq, head.hash, at, token)

    def sign(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """`document` with its `signature`: a detached JWS over `canonical(document)` (the document without it)."""
        unsigned = {k: v for k, v in document.items() if k != "signature"}
        token = _JWS.encode(canonical(unsigned), self.key, algorithm=ALG, is_payload_detached=True,
                            headers={"kid": self.kid, "typ": EXPORT_TYPE})
        return {**unsigned, "signature": {"alg": ALG, "kid": self.kid, "jws": token}}


def read_checkpoint(token: str, pseudonym: str) -> Checkpoint:
    """A checkpoint's claims as the topic carries them, its signature not checked (the topic is access's alone; a
    checkpoint is checked with `check_checkpoint` where it vouches for a chain). ValueError if it is not one."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise ValueError("not a JWS") from None
    return _checkpoint(claims, token, pseudonym)


def check_checkpoint(token: str, keys: Mapping[str, Ed25519PublicKey], pseudonym: str | None) -> Checkpoint:
    """The checkpoint, its signature checked with one of `keys` (by its kid) — and of the chain named `pseudonym`
    (None: any, for a patient's offline check: only access can name her chain); BadSignature otherwise."""
    try:
        key = _key_for(jwt.get_unverified_header(token).get("kid"), keys)
        claims = jwt.decode(token, key, algorithms=[ALG], options={"require": ["iss", "sub", "iat"],
                                                                  "verify_iat": False}, issuer=ISSUER)
    except jwt.PyJWTError:
        raise BadSignature("the checkpoint's signature does not hold") from None
    try:
        return _checkpoint(claims, token, pseudonym)
    except ValueError as exc:
        raise BadSignature(str(exc)) from None


def _checkpoint(claims: Mapping[str, Any], token: str, pseudonym: str | None) -> Checkpoint:
    seq, digest, at = claims.get("seq"), claims.get("hash"), claims.get("iat")
    if pseudonym is not None and claims.get("sub") != pseudonym:
        raise ValueError("a checkpoint of another chain")
    if type(seq) is not int or not isinstance(digest, str) or type(at) is not int:
        raise ValueError("a checkpoint needs seq, hash and iat")
    return Checkpoint(seq, digest, at, token)


def check_document(document: Mapping[str, Any], keys: Mapping[str, Ed25519PublicKey]) -> None:
    """A signed export holds: its detached JWS verifies over the canonical JSON of the rest of the document with
    one of `keys`; BadSignature otherwise."""
    signature = document.get("signature")
    token = signature.get("jws") if isinstance(signature, dict) else None
    if not isinstance(token, str):
        raise BadSignature("the document carries no signature")
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    try:
        key = _key_for(jwt.get_unverified_header(token).get("kid"), keys)
        _JWS.decode_complete(token, key, algorithms=[ALG], detached_payload=canonical(unsigned))
    except jwt.PyJWTError:
        raise BadSignature("the signature does not match the document") from None
