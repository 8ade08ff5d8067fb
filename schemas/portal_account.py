"""The portal API's account request bodies (`/v1/activation/...`, `/v1/login...`, `/v1/password/forgot`,
`/v1/logout`, `/v1/account/password`): what the gateway accepts before it asks activation. Unknown fields are
refused; every secret has a length cap."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from schemas.fields import Matricule


class Challenge(BaseModel):
    model_config = ConfigDict(extra="forbid")
    captcha_id: str | None = Field(default=None, max_length=64, description="From POST /v1/activation/captcha")
    captcha_answer: str | None = Field(default=None, max_length=64, description="The characters in the image")
    altcha: str | None = Field(default=None, max_length=4096, description="A solved ALTCHA challenge (payload)")

    def answer(self) -> dict[str, Any] | None:
        given = self.model_dump(include={"captcha_id", "captcha_answer", "altcha"}, exclude_none=True)
        return given or None


class Start(Challenge):
    matricule: Matricule
    activation_code: str = Field(max_length=64)
    terms_version: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}$")


class StepBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str | None = Field(default=None, max_length=128)
    channel: Literal["email", "sms"] | None = None
    email: EmailStr | None = None
    mobile: str | None = Field(default=None, pattern=r"^\+[1-9]\d{6,14}$")
    code: str | None = Field(default=None, max_length=16)
    luxtrust_assertion: str | None = Field(default=None, max_length=4096)


class LoginBody(Challenge):
    matricule: Matricule
    password: str = Field(max_length=128)
    channel: Literal["email", "sms"] | None = None


class Code(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=16)


class Forgot(Challenge):
    matricule: Matricule


class Logout(BaseModel):
    model_config = ConfigDict(extra="forbid")
    everywhere: bool = Field(default=False, description="End every session of the account")


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(max_length=128, description="The current password")
    new_password: str = Field(max_length=128)
