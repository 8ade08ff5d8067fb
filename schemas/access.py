"""Contracts of the access service: `access.commands.v1`, `access.events.v1`, `access.grant-expired.v1`.

Commands are keyed by the patient's matricule, so one patient's commands are applied in order.
Every command gets exactly one outcome on `access.events.v1` (accepted or refused, with the reason);
the gateway waits for it by `command_id`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, RootModel, StringConstraints, model_validator

from .fields import Matricule, MessageId, check_matricule

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ProfessionalId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                                      description="Professional's directory id")]


class ActorRef(BaseModel):
    """Who acts: a person (by matricule), a professional (directory id) or an operations agent."""

    kind: Literal["patient", "professional", "operator"] = Field(description="patient | professional | operator")
    id: Annotated[str, StringConstraints(max_length=64)] = Field(description="Matricule, directory id or agent id")

    @model_validator(mode="after")
    def _id_fits_kind(self) -> ActorRef:
        if self.kind == "patient":
            check_matricule(self.id)
        elif not _ID.fullmatch(self.id):
            raise ValueError("actor id must be 1-64 characters of A-Z a-z 0-9 . _ -")
        return self


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command_id: MessageId = Field(description="Unique id; a redelivered command is applied once")
    patient: Matricule = Field(description="Whose DSP the command is about (the message key)")
    actor: ActorRef = Field(description="Who issues it (the gateway authenticated them)")


class CircleCommand(_Command):
    """Add a professional to the trusted circle (one by one, never practice-wide), or remove them."""

    command: Literal["add-to-circle", "remove-from-circle", "set-referring-gp"]
    professional_id: ProfessionalId = Field(description="The professional (directory id)")
    period_days: int | None = Field(default=None, ge=0, le=365,
                                    description="Access period when adding (0-365 days); none: no end")


class ProfessionalCommand(_Command):
    """Block or unblock a professional; set a circle member's access period; revoke a grant."""

    command: Literal["block-professional", "unblock-professional", "set-access-period", "revoke-grant"]
    professional_id: ProfessionalId = Field(description="The professional (directory id)")
    days: int | None = Field(default=None, ge=0, le=365, description="set-access-period: 0-365 days from now")
    grant: Literal["trusted-circle", "presence-password", "emergency"] | None = Field(
        default=None, description="revoke-grant: which grant (all of the professional's grants if omitted)")


class EmergencySetting(_Command):
    """Allow or refuse emergency (break-the-glass) access to the whole DSP."""

    command: Literal["set-emergency-access"]
    refused: bool = Field(description="True: no professional may use emergency access")


class AssistantCommand(_Command):
    """Add or remove a DSP assistant (owner's rights); confirm a link made while the patient was a minor."""

    command: Literal["add-assistant", "remove-assistant", "confirm-assistant"]
    assistant: Matricule = Field(description="The assistant's matricule (an adult in the registry)")


class PresencePasswordCommand(_Command):
    """Internal, from access's HTTP API (`POST /v1/presence/generate`): make the presence password that access
    generated and hashed under this command id the patient's one; the old one stops working. Carries no secret;
    access applies it only if it holds that hash."""

    command: Literal["generate-presence-password"]
    delivery: Literal["letter", "inapp", "none"] = Field(
        default="letter", description="How notify delivers it; none: the portal shows it once (added in v1)")


class ConsentCommand(_Command):
    """Record a consent; its history is kept."""

    command: Literal["record-consent"]
    consent: Literal["organ-donation"] = Field(description="Which consent")
    value: bool = Field(description="Yes or no")


class RedeemPresencePassword(_Command):
    """Internal, from access's HTTP API (`POST /v1/presence/redeem`), which checked the password: a 24-hour
    grant to that professional only. Carries no secret; access applies it only if it recorded the redemption."""

    command: Literal["redeem-presence-password"]


class BreakTheGlass(_Command):
    """Emergency access by a professional, with a mandatory justification; the patient is alerted."""

    command: Literal["break-the-glass"]
    justification: Annotated[str, StringConstraints(min_length=15, max_length=500, strip_whitespace=True)] = Field(
        description="Why the emergency access is needed (15-500 characters)")


class VerifyAuditTrail(_Command):
    """Check the patient's hash-chained audit trail; the outcome names the first broken link."""

    command: Literal["verify-audit-trail"]


class EndGrant(_Command):
    """Internal, from access's sweeper: end a time-limited grant or an assistant link that reached its end.
    Applied by the patient's partition owner like any command, so two sweeping replicas end it once."""

    command: Literal["end-grant"]
    grant: Literal["trusted-circle", "presence-password", "emergency", "assistant"] = Field(description="Kind")
    subject: Annotated[str, StringConstraints(max_length=64)] = Field(description="Professional id or matricule")
    ends_at: AwareDatetime = Field(description="The end the sweeper found due (a renewed grant is left alone)")


class SetDocumentVisibility(_Command):
    """Internal, from records' `records.document-visibility.v1`: hide a document from professionals, or not."""

    command: Literal["set-document-visibility"]
    document_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")] = Field(
        description="The DSP document")
    blocked: bool = Field(description="True: hidden from every professional")


AnyCommand = (CircleCommand | ProfessionalCommand | EmergencySetting | AssistantCommand | PresencePasswordCommand
              | ConsentCommand | RedeemPresencePassword | BreakTheGlass | VerifyAuditTrail | EndGrant
              | SetDocumentVisibility)


class AccessCommandV1(RootModel[Annotated[AnyCommand, Field(discriminator="command")]]):
    """A command on `access.commands.v1` (key: patient matricule), told apart by its `command` field."""


class AccessOutcomeV1(BaseModel):
    """The outcome of one command (key: patient matricule). Never carries a password."""

    model_config = ConfigDict(extra="ignore", title="AccessOutcomeV1")

    event_id: str = Field(description="Deterministic: derived from the command id")
    command_id: MessageId = Field(description="The command this answers")
    command: str = Field(description="The command's name")
    patient: Matricule = Field(description="Whose DSP")
    accepted: bool = Field(description="False: refused, see reason")
    reason: str = Field(description="Why it was accepted or refused")
    at: AwareDatetime = Field(description="When access applied it")
    details: dict[str, str] = Field(default_factory=dict, description="e.g. a grant's end, a first broken link")


class GrantExpiredV1(BaseModel):
    """A time-limited grant or an assistant link reached its end (key: patient matricule)."""

    model_config = ConfigDict(extra="ignore", title="GrantExpiredV1")

    event_id: str = Field(description="Deterministic: the same grant end always yields the same id")
    patient: Matricule = Field(description="Whose DSP")
    grant: Literal["trusted-circle", "presence-password", "emergency", "assistant"] = Field(description="Kind")
    subject: str = Field(description="The professional id, or the assistant's matricule")
    ended_at: datetime = Field(description="The grant's end time")


class AccessChangedV1(BaseModel):
    """Internal: a patient's access state has a new version; every access replica refreshes its view."""

    model_config = ConfigDict(extra="ignore", title="AccessChangedV1")

    patient: Matricule = Field(description="Whose access state changed")
    version: int = Field(ge=1, description="The stored state's version")




class DecisionRequest(BaseModel):
    """`POST /v1/decisions` on access: may this actor do this on this patient's DSP (and this document)?"""

    model_config = ConfigDict(extra="forbid", title="DecisionRequest")

    actor: ActorRef = Field(description="Who asks (the gateway authenticated them)")
    action: Literal["read", "manage"] = Field(description="read: documents; manage: who has access, consents")
    patient: Matricule
    document: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")] | None = Field(
        default=None, description="A document id, when one document is read")


class DecisionV1(BaseModel):
    """The answer, with the rule or grant it rests on; every professional's decision is audited."""

    allowed: bool
    reason: str = Field(description="owner | DSP assistant | trusted-circle | referring GP | presence-password | "
                                    "emergency, or why not")
    grant: str | None = Field(default=None, description="The grant used, if any")
    audit_seq: int | None = Field(default=None, description="The audit entry written for this decision")


class PatientQuery(BaseModel):
    """`POST /v1/access-state` and `POST /v1/audit`: the owner or an assistant reads what concerns the DSP."""

    model_config = ConfigDict(extra="forbid", title="PatientQuery")

    actor: ActorRef = Field(description="The owner or an assistant (the gateway authenticated them)")
    patient: Matricule = Field(description="Whose DSP")
    limit: int = Field(default=100, ge=1, le=1000, description="Audit entries, newest first")
    before_seq: int | None = Field(default=None, ge=0, description="Audit paging: entries before this one")


class ProfessionalQuery(BaseModel):
    """`POST /v1/patients-of` on access: the patients a professional may read now."""

    model_config = ConfigDict(extra="forbid", title="ProfessionalQuery")

    professional_id: ProfessionalId = Field(description="The professional (directory id)")
    limit: int = Field(default=200, ge=1, le=1000, description="At most this many patients")


class PresenceGenerateRequest(BaseModel):
    """`POST /v1/presence/generate` on access: a new presence password for the patient, returned once."""

    model_config = ConfigDict(extra="forbid")

    command_id: MessageId = Field(description="The id of the internal command whose outcome the caller awaits")
    patient: Matricule = Field(description="Whose presence password")
    actor: ActorRef = Field(description="The owner or an assistant (the gateway authenticated them)")
    delivery: Literal["letter", "inapp", "none"] = Field(default="none", description="Also send it (sealed)")


class PresenceRedeemRequest(BaseModel):
    """`POST /v1/presence/redeem` on access: a professional types a patient's presence password."""

    model_config = ConfigDict(extra="forbid")

    command_id: MessageId = Field(description="The id of the internal command whose outcome the caller awaits")
    patient: Matricule = Field(description="Whose DSP")
    professional_id: ProfessionalId = Field(description="Who typed it (the gateway authenticated them)")
    password: Annotated[str, StringConstraints(max_length=32)] = Field(description="As typed (XXXX-XXXX)")
