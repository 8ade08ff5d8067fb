"""Contract `registry.persons.v1`: a person registered in the national registry (key: matricule)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from .fields import Matricule, MessageId, ShortText, matricule_birth_date

Mobile = Annotated[str, StringConstraints(pattern=r"^\+[1-9]\d{6,14}$")]


class PostalAddress(BaseModel):
    line1: ShortText = Field(description="Street and number")
    line2: ShortText | None = Field(default=None, description="Additional address line")
    postal_code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9 -]{2,10}$")] = Field(
        description="Postal code, e.g. L-1025")
    locality: ShortText = Field(description="Town or city")
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = Field(
        default="LU", description="ISO 3166-1 alpha-2 country code")


class PersonRegisteredV1(BaseModel):
    model_config = ConfigDict(extra="ignore", title="PersonRegisteredV1")

    message_id: MessageId = Field(description="Registry's unique id for this message")
    matricule: Matricule
    given_name: ShortText = Field(description="Given name(s)")
    family_name: ShortText = Field(description="Family name")
    birth_date: date = Field(description="Birth date; must equal the date encoded in the matricule")
    postal_address: PostalAddress = Field(description="Where the activation letter is sent")
    email: EmailStr | None = Field(default=None, description="Optional e-mail for one-time codes")
    mobile: Mobile | None = Field(default=None, description="Optional mobile number, E.164 (+352...)")
    guardians: list[Matricule] = Field(
        default_factory=list, max_length=4,
        description="Matricules of a minor's legal representatives (legal guardians), as the national registry "
                    "records them: the only persons who may be a minor's DSP assistant")

    @model_validator(mode="after")
    def _birth_date_matches(self) -> PersonRegisteredV1:
        if matricule_birth_date(self.matricule) != self.birth_date:
            raise ValueError("birth_date does not match the birth date encoded in the matricule")
        if self.matricule in self.guardians:
            raise ValueError("a person cannot be their own guardian")
        return self
