"""Laboratory signatures on lab results, so that the platform knows which laboratory sent a result from the result
itself, and anyone can check it later: a JWS (RFC 7515) in compact serialization with a detached, unencoded
payload (RFC 7797, `b64: false`), EdDSA over Ed25519, made and checked by PyJWT. Pure: no I/O.

The signature travels in the record's `dsp-lab-signature` header. Its protected header holds `alg` (EdDSA), `kid`
(the laboratory's key id, announced with the public key on `directory.laboratories.v1`), `b64: false` and
`crit: ["b64"]`, and two claims of this mesh: `dsp-topic`, the topic the record is for, and `dsp-key`, the record's
key. The payload is the record's exact value bytes. So a signed result altered by one byte, moved to another key
(another laboratory's report) or to another topic no longer verifies. Ed25519 signatures are deterministic: the
same record signed twice carries the same header, and a redelivery is byte-identical.

Keys: Ed25519, written as base64url (RFC 4648 §5, no padding) of their raw 32 bytes — the private key's seed and
the public key alike. Used by records (verification), and through `LaboratoryKey` by the demo laboratory, the
benches and the tests (signing, and the announcement of the key on `directory.laboratories.v1`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from jwt import api_jws

HEADER = "dsp-lab-signature"
ALGORITHM = "EdDSA"
TOPIC_CLAIM, KEY_CLAIM = "dsp-topic", "dsp-key"
MAX_LENGTH = 16 * 1024  # a header longer than this is no signature of ours (the mesh's own seal is the longest)


class BadSignature(ValueError):
    """The signature is missing, malformed or does not verify; the message says which, never a secret."""


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _raw32(text: str, what: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not base64url") from None
    if len(raw) != 32 or b64url(raw) != text:
        raise ValueError(f"{what} is not the base64url of 32 bytes")
    return raw


def new_key() -> tuple[str, str]:
    """A new Ed25519 key pair: (private seed, public key), base64url."""
    private = Ed25519PrivateKey.generate()
    return b64url(private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())), public_text(private)


def private_key(seed: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_raw32(seed.strip(), "the private key"))


def public_key(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_raw32(text.strip(), "the public key"))


def public_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return b64url(public.public_bytes(Encoding.Raw, PublicFormat.Raw))


def key_id(laboratory_id: str, public: str) -> str:
    """A key id that names its laboratory and its key (a new key, a new id): `<laboratory>.<8 hex of its hash>`."""
    return f"{laboratory_id}.{hashlib.sha256(public.encode()).hexdigest()[:8]}"


def key_text(key: bytes | None) -> str:
    """A record's key as the `dsp-key` claim holds it (a key that is not UTF-8 can never verify)."""
    return (key or b"").decode("utf-8", errors="replace")


def sign(private: Ed25519PrivateKey, kid: str, topic: str, key: bytes | None, value: bytes,
         claims: Mapping[str, Any] | None = None) -> str:
    """The `dsp-lab-signature` of a record: `value`'s exact bytes, under a header binding `topic` and `key`."""
    headers = {**(claims or {}), "kid": kid, "typ": None, TOPIC_CLAIM: topic, KEY_CLAIM: key_text(key)}
    return api_jws.encode(value, private, algorithm=ALGORITHM, headers=headers, is_payload_detached=True)


def header(signature: str) -> dict[str, Any]:
    """The protected header, not verified yet (which key to verify with); BadSignature if it is not a compact JWS
    with a detached payload, an EdDSA algorithm, a key id and the two claims."""
    if len(signature) > MAX_LENGTH:
        raise BadSignature("the signature is too long")
    try:
        found = api_jws.get_unverified_header(signature)
    except jwt.PyJWTError:
        raise BadSignature("the signature is not a compact JWS") from None
    if found.get("b64") is not False or signature.split(".")[1:2] != [""]:
        raise BadSignature("the signature's payload is not detached (RFC 7797, b64 false)")
    if found.get("alg") != ALGORITHM:
        raise BadSignature(f"the signature's algorithm is not {ALGORITHM}")
    if not isinstance(found.get("kid"), str) or not found["kid"]:
        raise BadSignature("the signature names no key (kid)")
    if not isinstance(found.get(TOPIC_CLAIM), str) or not isinstance(found.get(KEY_CLAIM), str):
        raise BadSignature(f"the signature does not name the record's topic and key ({TOPIC_CLAIM}, {KEY_CLAIM})")
    return found


def verify(signature: str, public: Ed25519PublicKey, topic: str, key: bytes | None, value: bytes,
           checked: dict[str, Any] | None = None) -> dict[str, Any]:
    """The verified protected header of `signature` for this record, or BadSignature (which part is wrong).
    `checked`: its header as `header` already returned it (not read twice)."""
    found = checked if checked is not None else header(signature)
    if found[TOPIC_CLAIM] != topic:
        raise BadSignature(f"the signature is for another topic ({found[TOPIC_CLAIM]})")
    if found[KEY_CLAIM].encode() != (key or b""):
        raise BadSignature("the signature is for another record key")
    try:
        api_jws.decode_complete(signature, public, algorithms=[ALGORITHM], detached_payload=value)
    except jwt.InvalidSignatureError:
        raise BadSignature(f"the signature does not match the record (key {found['kid']})") from None
    except jwt.PyJWTError:
        raise BadSignature("the signature is not a valid JWS") from None
    return found


def signature_of(headers: Sequence[tuple[str, bytes]] | None) -> str | None:
    """The `dsp-lab-signature` header of a record's headers (the last one, if repeated), or None."""
    found = None
    for name, value in headers or ():
        if name == HEADER:
            found = value
    if found is None:
        return None
    try:
        return found.decode("ascii")
    except UnicodeDecodeError:
        return ""  # no JWS: malformed


def digest(value: bytes) -> str:
    """SHA-256 of what was signed (kept with the provenance: the bytes a later check needs are these)."""
    return hashlib.sha256(value).hexdigest()



@dataclass(frozen=True)
class LaboratoryKey:
    """A laboratory's signing key, as the laboratory holds it: it signs records and says how to announce itself."""

    laboratory_id: str
    private: Ed25519PrivateKey

    @classmethod
    def new(cls, laboratory_id: str) -> LaboratoryKey:
        return cls(laboratory_id, Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, laboratory_id: str, seed: str) -> LaboratoryKey:
        return cls(laboratory_id, private_key(seed))

    @property
    def seed(self) -> str:
        return b64url(self.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))

    @property
    def public(self) -> str:
        return public_text(self.private)

    @property
    def kid(self) -> str:
        return key_id(self.laboratory_id, self.public)

    def sign(self, topic: str, key: bytes | None, value: bytes) -> str:
        return sign(self.private, self.kid, topic, key, value)

    def headers(self, topic: str, key: bytes | None, value: bytes) -> list[tuple[str, bytes]]:
        """A record's headers with its signature (aiokafka's shape)."""
        return [(HEADER, self.sign(topic, key, value).encode())]

    def listing(self, display_name: str, message_id: str | None = None, status: str = "active") -> dict[str, Any]:
        """The `directory.laboratories.v1` message (`schemas.directory.LaboratoryListedV1`) announcing this key."""
        return {"message_id": message_id or f"lab-key-{self.kid}-{status}", "laboratory_id": self.laboratory_id,
                "display_name": display_name, "keys": [{"kid": self.kid, "public_key": self.public, "status": status}]}
