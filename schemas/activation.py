"""Contracts of the activation service: `activation.commands.v1`, `activation.events.v1`, `activation.accounts.v1`.

Commands are keyed by the matricule: one person's steps are applied in order, by one consumer. The gateway
creates the secrets that identify a browser (`flow_id` for an activation, `login_id` for a login,
`session_token` for a session) and sends them here; activation keeps only their SHA-256 digests and never
publishes a secret. Every command gets exactly one outcome on `activation.events.v1`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, RootModel, StringConstraints

from .fields import Matricule, MessageId

Secret = Annotated[str, StringConstraints(min_length=32, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
Typed = Annotated[str, StringConstraints(max_length=64)]


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command_id: MessageId = Field(description="Unique id; a redelivered command is applied once")
    matricule: Matricule = Field(description="Whose account (the message key)")


class StartActivation(_Command):
    """Step 1: matricule + the letter's activation code, accepted terms of use, the captcha answer."""

    command: Literal["start"]
    activation_code: Typed = Field(description="As typed from the letter (dashes and case ignored)")
    terms_version: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}$")] = Field(
        description="The terms of use (CGU) version accepted, e.g. 2026-01")
    captcha_id: Typed = Field(description="From POST /v1/captcha on activation")
    captcha_answer: Typed = Field(description="The characters the person copied")
    flow_id: Secret = Field(description="Random secret the gateway keeps for this browser's activation")


class SetPassword(_Command):
    """Step 2: at least 8 characters, a letter and a digit; not the matricule; not a common password."""

    command: Literal["set-password"]
    flow_id: Secret = Field(description="The secret sent with `start`")
    password: Annotated[str, StringConstraints(max_length=128)] = Field(description="The new password")


class ChooseChannel(_Command):
    """Step 3: where the one-time code goes (e-mail or SMS); without an address, the registry's one."""

    command: Literal["choose-channel"]
    flow_id: Secret = Field(description="The secret sent with `start`")
    channel: Literal["email", "sms"] = Field(description="email | sms")
    email: EmailStr | None = Field(default=None, description="For channel email")
    mobile: Annotated[str, StringConstraints(pattern=r"^\+[1-9]\d{6,14}$")] | None = Field(
        default=None, description="For channel sms, E.164")


class FlowStep(_Command):
    """Resend the one-time code (at most once a minute), verify it, link LuxTrust or skip it, confirm."""

    command: Literal["resend-otp", "verify-otp", "link-luxtrust", "skip-luxtrust", "confirm"]
    flow_id: Secret = Field(description="The secret sent with `start`")
    code: Typed | None = Field(default=None, description="verify-otp: the 6 digits received")
    luxtrust_assertion: Annotated[str, StringConstraints(max_length=4096)] | None = Field(
        default=None, description="link-luxtrust: the signed assertion from LuxTrust")


class Login(_Command):
    """Matricule + password (then a one-time code), or a LuxTrust assertion."""

    command: Literal["login", "login-verify-otp", "login-luxtrust"]
    login_id: Secret = Field(description="Random secret the gateway keeps for this login attempt")
    password: Annotated[str, StringConstraints(max_length=128)] | None = Field(default=None, description="login")
    code: Typed | None = Field(default=None, description="login-verify-otp: the 6 digits received")
    luxtrust_assertion: Annotated[str, StringConstraints(max_length=4096)] | None = Field(
        default=None, description="login-luxtrust: the signed assertion from LuxTrust")
    session_token: Secret | None = Field(default=None, description="The session to open once verified")
    channel: Literal["email", "sms"] | None = Field(
        default=None, description="login: where the one-time code goes (default: the channel chosen at activation)")


class SessionCommand(_Command):
    """End a session, or change the password within one."""

    command: Literal["logout", "change-password"]
    session_token: Secret = Field(description="The session (as given at login)")
    password: Annotated[str, StringConstraints(max_length=128)] | None = Field(default=None,
                                                                              description="current password")
    new_password: Annotated[str, StringConstraints(max_length=128)] | None = Field(
        default=None, description="change-password: the new password")


class Helpdesk(_Command):
    """Operations: a new letter (lost letter, forgotten password, locked code) or unlocking a login."""

    command: Literal["reissue-code", "unlock", "forgot-password"]
    operator: Typed = Field(description="Helpdesk agent id, or 'portal' for a person's own request")


AnyCommand = (StartActivation | SetPassword | ChooseChannel | FlowStep | Login | SessionCommand | Helpdesk)


class ActivationCommandV1(RootModel[Annotated[AnyCommand, Field(discriminator="command")]]):
    """A command on `activation.commands.v1` (key: matricule), told apart by its `command` field."""


class ActivationOutcomeV1(BaseModel):
    """The answer to one command (key: matricule). Never carries a secret."""

    model_config = ConfigDict(extra="ignore", title="ActivationOutcomeV1")

    event_id: str = Field(description="Deterministic: derived from the command id")
    command_id: MessageId = Field(description="The command this answers")
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

    event_id: str = Field(description="Deterministic: derived from the confirming command")
    matricule: Matricule = Field(description="Whose account")
    minor: bool = Field(description="The account belongs to a minor (from the matricule's birth date)")
    luxtrust: bool = Field(description="A LuxTrust product was linked")
    activated_at: AwareDatetime = Field(description="When")
