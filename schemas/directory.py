"""Contract `directory.professionals.v1`: a health professional listed in the directory (key: professional_id)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

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
