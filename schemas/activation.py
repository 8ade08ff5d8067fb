"""Contracts of the activation service.

Every step that checks a secret (the letter's code, a password, a one-time code, a session) is answered by
activation over its authenticated HTTP API (`*Request` bodies, `StepAnswer` answers): secrets never travel on
Kafka. Kafka carries only facts without secrets: `activation.events.v1` (one outcome per step, for operations),
`activation.accounts.v1` (an account became active) and, on `activation.commands.v1`, the helpdesk's commands.
The tokens that identify a browser's activation, login and session are made by activation, returned once over
HTTP and stored as SHA-256 digests only.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, RootModel, StringConstraints

from .fields import Matricule, MessageId

Secret = Annotated[str, StringConstraints(min_length=32, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
Typed = Annotated[str, StringConstraints(max_length=64)]
Password = Annotated[str, StringConstraints(max_length=128)]
Mobile = Annotated[str, StringConstraints(pattern=r"^\+[1-9]\d{6,14}$")]
Client = Annotated[str, StringConstraints(max_length=64)]
CLIENT = ("The client's address as the gateway sees it (its rate-limit key): the delay after failed attempts "
          "counts per address, so a stranger's failures never delay the owner; activation keeps only a keyed hash")
STEPS = ("set-password", "choose-channel", "resend-otp", "verify-otp", "link-luxtrust", "skip-luxtrust", "confirm")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChallengeAnswer(_Body):
    """A solved challenge: the image captcha's characters, or the ALTCHA proof of work (no eyes needed)."""

    captcha_id: Typed | None = Field(default=None, description="From POST /v1/captcha")
    captcha_answer: Typed | None = Field(default=None, description="The characters copied from the image")
    altcha: Annotated[str, StringConstraints(max_length=4096)] | None = Field(
        default=None, description="The ALTCHA payload (base64 JSON) solving a challenge from POST /v1/altcha")


class StartRequest(_Body):
    """Step 1: matricule + the letter's activation code, accepted terms of use, a solved challenge."""

    matricule: Matricule = Field(description="The national identification number")
    activation_code: Typed = Field(description="As typed from the letter (dashes, spaces and case ignored)")
    terms_version: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}$")] = Field(
        description="The terms of use (CGU) version accepted, e.g. 2026-01")
    challenge: ChallengeAnswer = Field(description="A solved captcha or ALTCHA challenge")
    client: Client | None = Field(default=None, description=CLIENT)


class StepRequest(_Body):
    """The next activation step, in the browser's activation (its flow token from `start`)."""

    flow_token: Secret = Field(description="Returned by start")
    command: Literal[STEPS] = Field(description="The step")  # type: ignore[valid-type]
    password: Password | None = Field(default=None, description="set-password: the new password")
    channel: Literal["email", "sms"] | None = Field(default=None, description="choose-channel: email | sms")
    email: EmailStr | None = Field(default=None, description="choose-channel email: the address")
    mobile: Mobile | None = Field(default=None, description="choose-channel sms: E.164 number")
    code: Typed | None = Field(default=None, description="verify-otp: the 6 digits received")
    luxtrust_assertion: Annotated[str, StringConstraints(max_length=4096)] | None = Field(
        default=None, description="link-luxtrust: the signed assertion from LuxTrust")


class LoginRequest(_Body):
    """Matricule + password; a one-time code is then sent. After repeated failures a challenge is needed."""

    matricule: Matricule = Field(description="Whose account")
    password: Password = Field(description="The login password")
    channel: Literal["email", "sms"] | None = Field(default=None, description="Where the code goes")
    challenge: ChallengeAnswer | None = Field(default=None, description="Needed after repeated failures")
    device_token: Secret | None = Field(default=None, description="This browser's device token, if it has one")
    client: Client | None = Field(default=None, description=CLIENT)


class LoginCodeRequest(_Body):
    """The one-time code of a login; opens a session."""

    login_token: Secret = Field(description="Returned by login")
    code: Typed = Field(description="The 6 digits received")


class LuxTrustLoginRequest(_Body):
    matricule: Matricule = Field(description="Whose account")
    luxtrust_assertion: Annotated[str, StringConstraints(max_length=4096)] = Field(description="From LuxTrust")


class SessionRequest(_Body):
    session_token: Secret = Field(description="The session, as returned at login")
    everywhere: bool = Field(default=False, description="End: every session of the account, not only this one")


class ChangePasswordRequest(_Body):
    session_token: Secret = Field(description="The session, as returned at login")
    password: Password = Field(description="The current password")
    new_password: Password = Field(description="The new password")


class ForgotPasswordRequest(_Body):
    """A new letter for a forgotten password; answered the same whether or not the matricule has an account."""

    matricule: Matricule = Field(description="Whose account")
    challenge: ChallengeAnswer = Field(description="A solved captcha or ALTCHA challenge")


class StepAnswer(BaseModel):
    """activation's answer to one step over HTTP (the only place a token is ever given out)."""

    model_config = ConfigDict(extra="forbid")

    accepted: bool = Field(description="False: refused, see reason")
    reason: str = Field(description="Why, in words a person understands")
    next_step: str | None = Field(default=None, description="What comes next, if anything")
    details: dict[str, str] = Field(default_factory=dict, description="e.g. a masked address, tries left")
    challenge_required: bool = Field(default=False, description="The next attempt needs a solved challenge")
    retry_after_s: int | None = Field(default=None, description="Attempts are refused for this long")
    token: Secret | None = Field(default=None, description="The flow, login or session token (once)")
    device_token: Secret | None = Field(default=None, description="Recognises this browser at the next login")


class Helpdesk(BaseModel):
    """Operations: a new letter (lost letter, forgotten password) or clearing an account's failure counts."""

    model_config = ConfigDict(extra="forbid")

    command: Literal["reissue-code", "unlock", "forgot-password"]
    command_id: MessageId = Field(description="Unique id; a redelivered command is applied once")
    matricule: Matricule = Field(description="Whose account (the message key)")
    operator: Typed = Field(description="The helpdesk operator, as logged in to the console")
    operator_assertion: Annotated[str, StringConstraints(max_length=2048)] = Field(
        description="An EdDSA JWT signed by the console's service key (iss console, aud activation, sub the "
                    "operator, cmd the command id): activation applies the command only if it verifies")


AnyCommand = Helpdesk


class ActivationCommandV1(RootModel[Helpdesk]):
    """A command on `activation.commands.v1` (key: matricule): the helpdesk's. Steps with secrets are HTTP."""


class ActivationOutcomeV1(BaseModel):
    """What one step or command did (key: matricule), for operations. Never carries a secret."""

    model_config = ConfigDict(extra="ignore", title="ActivationOutcomeV1")

    event_id: str = Field(description="Deterministic: derived from the command id")
    command_id: MessageId = Field(description="The command or HTTP step this answers")
    command: str = Field(description="The command's name")
    matricule: Matricule = Field(description="Whose account")
    accepted: bool = Field(description="False: refused, see reason")
    reason: str = Field(description="Why it was accepted or refused")
    next_step: str | None = Field(default=None, description="What the person does next, if anything")
    at: AwareDatetime = Field(description="When activation applied it")
    details: dict[str, str] = Field(default_factory=dict, description="e.g. a masked address, the session end")


class AccountActivatedV1(BaseModel):
    """An account became active (key: matricule)."""

    model_config = ConfigDict(extra="ignore", title="AccountActivatedV1")

    event_id: str = Field(description="Deterministic: derived from the confirming step")
    matricule: Matricule = Field(description="Whose account")
    minor: bool = Field(description="The account belongs to a minor (from the matricule's birth date)")
    luxtrust: bool = Field(description="A LuxTrust product was linked")
    activated_at: AwareDatetime = Field(description="When")
    channel: Literal["email", "sms"] | None = Field(
        default=None, description="The channel the person chose for one-time codes, where notify also sends her "
                                  "alerts (e.g. an emergency access); none: not said (added in v1, optional)")
    destination: Annotated[str, StringConstraints(max_length=254)] | None = Field(
        default=None, description="The e-mail address or mobile number on that channel, as the person chose it (the "
                                  "registry's or one she typed); never a secret (added in v1, optional)")


class SessionV1(BaseModel):
    """activation's answer to `POST /v1/sessions/check` (a `SessionRequest`): whose live session it is."""

    matricule: Matricule = Field(description="The account's matricule")
    expires_at: AwareDatetime = Field(description="When the session ends unless used again")
