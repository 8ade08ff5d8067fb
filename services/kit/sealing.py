"""Sealed notification secrets: codes and passwords cross `notify.requests.v1` only as ciphertext that notify
alone can open.

A producer seals the secret template parameters to notify's public key (`DSP_NOTIFY_PUBLIC_KEY`) with a NaCl
sealed box (X25519 + XSalsa20-Poly1305, an ephemeral sender key per message: only the private key's holder can
open it, and any change to the ciphertext is detected). notify opens them with its private key
(`DSP_NOTIFY_SEAL_KEY`) at the moment it renders the message, and never stores or logs them.

The sealed plaintext also names the request it was sealed for (request id, channel, recipient, destination):
a ciphertext copied from the topic into another request — say, one with another destination — does not open.

    python -m services.kit.sealing    # a new keypair, as two environment lines, for operators
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

from schemas.fields import IDENTIFIER_PATTERN

PRIVATE_KEY_VAR = "DSP_NOTIFY_SEAL_KEY"
PUBLIC_KEY_VAR = "DSP_NOTIFY_PUBLIC_KEY"
MAX_VALUES = 30
MAX_VALUE_LENGTH = 500
_NAME = re.compile(IDENTIFIER_PATTERN)  # schemas.fields.Identifier, as template parameters


class SealError(ValueError):
    """A key is malformed, or a sealed value does not open (altered, sealed to another key or another request).
    Its message never contains a key or a sealed value."""


class SealingNotConfigured(RuntimeError):
    """A producer has secrets to send but no notify public key to seal them to."""


def _key_bytes(value: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SealError(f"{what} is not base64") from None
    if len(raw) != 32:
        raise SealError(f"{what} is not an X25519 key (32 bytes, base64)")
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def new_keypair() -> tuple[str, str]:
    """A new X25519 keypair: (private, public), each base64 of 32 bytes."""
    private = PrivateKey.generate()
    return _b64(bytes(private)), _b64(bytes(private.public_key))


def public_key_of(private_key_b64: str) -> str:
    """The public key (base64) that belongs to a private key (base64)."""
    return _b64(bytes(PrivateKey(_key_bytes(private_key_b64, "the private key")).public_key))


def check_private_key(value: str) -> str:
    """A settings validator: `value` is a base64 X25519 private key."""
    _key_bytes(value, "the private key")
    return value


def check_public_key(value: str) -> str:
    """A settings validator: `value` is a base64 X25519 public key."""
    _key_bytes(value, "the public key")
    return value


def _checked(values: Mapping[str, object]) -> dict[str, str]:
    if not isinstance(values, Mapping) or len(values) > MAX_VALUES:
        raise SealError(f"sealed parameters must be an object of at most {MAX_VALUES} entries")
    out: dict[str, str] = {}
    for name, value in values.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise SealError("a sealed parameter's name is not an identifier (A-Z a-z 0-9 . _ -, 1-64 characters)")
        if not isinstance(value, str) or len(value) > MAX_VALUE_LENGTH:
            raise SealError(f"sealed parameter {name!r} is not text of at most {MAX_VALUE_LENGTH} characters")
        out[name] = value
    return out


def request_binding(request_id: str, channel: str, recipient: str, destination: str | None = None) -> str:
    """What a sealed value is bound to: the request it was sealed for (the same fields notify sees)."""
    channel = getattr(channel, "value", channel)
    return json.dumps([request_id, channel, recipient, destination or ""], separators=(",", ":"),
                      ensure_ascii=False)


def seal(public_key_b64: str, values: dict[str, str], *, bound_to: str = "") -> str:
    """Base64 of a sealed box (to `public_key_b64`) of the compact JSON of `values` (and of `bound_to`)."""
    plaintext = json.dumps({"for": bound_to, "values": _checked(values)}, separators=(",", ":"),
                           ensure_ascii=False, sort_keys=True).encode()
    box = SealedBox(PublicKey(_key_bytes(public_key_b64, "the public key")))
    try:
        return _b64(box.encrypt(plaintext))
    except CryptoError:  # libsodium refuses a degenerate (low-order) public key
        raise SealError("the public key is not usable for sealing") from None


def unseal(private_key_b64: str, sealed: str, *, bound_to: str = "") -> dict[str, str]:
    """The values sealed by `seal` for `bound_to`; `SealError` if they do not open with this key, were altered,
    or were sealed for another request."""
    box = SealedBox(PrivateKey(_key_bytes(private_key_b64, "the private key")))
    try:
        ciphertext = base64.b64decode(sealed, validate=True)
    except (binascii.Error, ValueError):
        raise SealError("sealed parameters are not base64") from None
    try:
        plaintext = box.decrypt(ciphertext)
    except CryptoError:
        raise SealError("sealed parameters do not open with notify's key (sealed to another key, or altered)") \
            from None
    try:
        envelope = json.loads(plaintext)
    except (UnicodeDecodeError, ValueError):
        raise SealError("sealed parameters are not JSON") from None
    if not isinstance(envelope, dict) or set(envelope) != {"for", "values"}:
        raise SealError("sealed parameters are not in the sealed-parameters format")
    if envelope["for"] != bound_to:
        raise SealError("sealed parameters were sealed for another request")
    return _checked(envelope["values"])


def sealed_request_fields(public_key: str | None, secrets: dict[str, str], *, request_id: str, channel: str,
                          recipient: str, destination: str | None = None) -> dict[str, str]:
    """The fields to add to a `NotificationRequestV1` that carries `secrets` (template parameters such as
    `code` or `password`): `{"sealed_parameters": ...}`, sealed to notify's key for exactly this request
    (pass the request's own request_id, channel, recipient and destination). No secrets: `{}`.

    `public_key` is the producer's `settings.notify_public_key`; unset → `SealingNotConfigured`."""
    if not secrets:
        return {}
    if not public_key:
        raise SealingNotConfigured(f"{PUBLIC_KEY_VAR} is not set: secrets for notify cannot be sealed "
                                   f"(generate a keypair with: python -m services.kit.sealing)")
    binding = request_binding(request_id, channel, recipient, destination)
    return {"sealed_parameters": seal(public_key, secrets, bound_to=binding)}


def main() -> int:
    private, public = new_keypair()
    print(f"{PRIVATE_KEY_VAR}={private}")
    print(f"{PUBLIC_KEY_VAR}={public}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
