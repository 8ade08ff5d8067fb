"""Contracts of the directory: `directory.professionals.v1`, a health professional listed in the directory (key:
professional_id), and `directory.laboratories.v1`, a laboratory and its signing keys (key: laboratory_id)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from .fields import Identifier, MessageId, ShortText


class ProfessionalListedV1(BaseModel):
    model_config = ConfigDict(extra="ignore", title="ProfessionalListedV1")

    message_id: MessageId = Field(description="Directory's unique id for this message")
    professional_id: Identifier = Field(description="Professional's directory id")
    given_name: ShortText = Field(description="Given name(s)")
    family_name: ShortText = Field(description="Family name")
    profession: ShortText = Field(description="Profession, e.g. 'Médecin'")
    specialty: ShortText | None = Field(default=None, description="Specialty, e.g. 'Médecine générale'")
    practice_id: Identifier | None = Field(default=None, description="Practice; grants are never practice-wide")
    active: bool = Field(default=True, description="False when the professional leaves the directory")


KEY_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
RESERVED_KEY_IDS = "dsp-mesh:"  # the mesh's own seals (records' FHIR mapping) use key ids under this prefix


def _public_key(value: str) -> str:
    padded = value + "=" * (-len(value) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded)
    except (binascii.Error, ValueError):
        raise ValueError("public_key is not base64url") from None
    if len(raw) != 32 or base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != value:
        raise ValueError("public_key must be the base64url (no padding) of an Ed25519 key's raw 32 bytes") from None
    return value


class LaboratoryKeyV1(BaseModel):
    """One of a laboratory's signing keys."""

    model_config = ConfigDict(extra="ignore", title="LaboratoryKeyV1")

    kid: Annotated[str, StringConstraints(pattern=KEY_ID_PATTERN)] = Field(
        description="Key id: the `kid` in the protected header of the results signed with this key (1-128 characters "
                    "of A-Z a-z 0-9 . _ : -; never reused for another key; not under the reserved 'dsp-mesh:')")
    public_key: Annotated[str, AfterValidator(_public_key)] = Field(
        description="The Ed25519 public key: base64url (RFC 4648 §5, no padding) of its raw 32 bytes")
    status: Literal["active", "revoked"] = Field(
        description="active: results signed with it are accepted; revoked: refused from now on (for good)")

    @field_validator("kid")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value.startswith(RESERVED_KEY_IDS):
            raise ValueError(f"key ids under '{RESERVED_KEY_IDS}' are the mesh's own")
        return value


class LaboratoryListedV1(BaseModel):
    """Contract `directory.laboratories.v1` (key: laboratory_id): a laboratory as the directory lists it, with the
    keys it signs its results with (`dsp-lab-signature`). Each message gives the laboratory's name and the keys it
    announces or changes; a key once announced stays known (leaving it out of a later message does not remove it:
    revoke it), and a key id always names the same public key of the same laboratory."""

    model_config = ConfigDict(extra="ignore", title="LaboratoryListedV1")

    message_id: MessageId = Field(description="Directory's unique id for this message")
    laboratory_id: Identifier = Field(description="The laboratory's id, as its results name it (`laboratory_id`)")
    display_name: ShortText = Field(description="The laboratory's name, as the portal shows it, e.g. 'Laboratoires "
                                                "Réunis'")
    keys: list[LaboratoryKeyV1] = Field(default_factory=list, max_length=20,
                                        description="Its signing keys: new ones, and the status of known ones")

    @model_validator(mode="after")
    def _distinct_key_ids(self) -> LaboratoryListedV1:
        kids = [k.kid for k in self.keys]
        if len(set(kids)) != len(kids):
            raise ValueError("keys: a key id is listed twice")
        return self
