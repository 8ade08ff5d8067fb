"""The portal API's access screens: the commands a patient sends, who has access, the audit trail, a
professional's patients.

`PatientAccessCommand` is the body of `POST /v1/me/access/commands`: a union, told apart by `command`, of the
patient's commands of `schemas.access` (`PATIENT_COMMANDS`, an allow-list: an internal command access adds later
is not a patient's until it is listed here), each without `command_id`, `patient` and `actor` — the gateway
sets them. The state and audit answers are access's, passed through: documented here, open to the fields
access adds (`extra="allow"`), their dates RFC 3339 UTC `Z`.
"""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

from . import access
from .fields import UtcDateTime
from .portal import Details

PATIENT_COMMANDS = ("add-to-circle", "remove-from-circle", "set-referring-gp", "block-professional",
                    "unblock-professional", "set-access-period", "revoke-grant", "set-emergency-access",
                    "add-assistant", "remove-assistant", "confirm-assistant", "record-consent", "verify-audit-trail")
SET_BY_THE_GATEWAY = ("command_id", "patient", "actor")


def _patient_body(command: type[BaseModel]) -> type[BaseModel] | None:
    """`command`'s model without the fields the gateway sets, its `command` narrowed to the patient's names."""
    names = tuple(n for n in typing.get_args(command.model_fields["command"].annotation) if n in PATIENT_COMMANDS)
    if not names:
        return None
    fields: dict[str, Any] = {name: (info.annotation, info) for name, info in command.model_fields.items()
                              if name not in (*SET_BY_THE_GATEWAY, "command")}
    fields["command"] = (Literal[names], FieldInfo(description=command.model_fields["command"].description
                                                   or "The command"))
    return create_model(command.__name__, __config__=ConfigDict(extra="forbid"), __doc__=command.__doc__,
                        __module__=__name__, **fields)


PATIENT_BODIES = tuple(b for b in map(_patient_body, typing.get_args(access.AnyCommand)) if b is not None)
if TYPE_CHECKING:
    PatientAccessCommand = BaseModel
else:
    PatientAccessCommand = Annotated[Union[PATIENT_BODIES], Field(discriminator="command")]  # noqa: UP007


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ProfessionalName(_Open):
    """A professional as a person reads them (access names them from its directory copy)."""

    professional_id: str = Field(description="The professional (directory id)")
    name: str | None = Field(default=None, description="Given and family name; none: not in the directory")
    profession: str | None = Field(default=None, description="e.g. Médecin")
    specialty: str | None = Field(default=None, description="e.g. Médecine générale")


Professional = str | ProfessionalName  # a directory id, or (as access moves to naming them) the professional


class Grant(_Open):
    kind: str = Field(description="trusted-circle | presence-password | emergency")
    professional_id: str = Field(description="The professional (directory id)")
    granted_at: UtcDateTime | None = Field(default=None, description="Since when")
    ends_at: UtcDateTime | None = Field(default=None, description="Until when; none: no end")


class Assistant(_Open):
    matricule: str = Field(description="The DSP assistant")
    ends_at: UtcDateTime | None = Field(default=None, description="Until when (a minor's link ends at 18)")


class Consent(_Open):
    consent: str = Field(description="Which consent, e.g. organ-donation")
    value: bool = Field(description="Yes or no")
    at: UtcDateTime | None = Field(default=None, description="When it was recorded")
    by: str | None = Field(default=None, description="Who recorded it")


class AccessState(_Open):
    """Who has access to the DSP, who is blocked, the assistants, the consents (access's answer)."""

    grants: list[Grant] = Field(default_factory=list)
    blocked_professionals: list[Professional] = Field(default_factory=list, description="Blocked by the patient")
    blocked_documents: list[str] = Field(default_factory=list)
    assistants: list[Assistant] = Field(default_factory=list)
    referring_gp: Professional | None = Field(default=None, description="The referring GP")
    emergency_refused: bool = Field(default=False, description="No professional may use emergency access")
    consents: list[Consent] = Field(default_factory=list, description="Every consent recorded, oldest first")
    presence_password: bool = Field(default=False, description="A presence password is set")
    version: int | None = Field(default=None, description="The stored state's version")


class AuditEntry(_Open):
    """Who did or tried what on the DSP, and whether access allowed it."""

    seq: int = Field(description="Position in the patient's trail (1 = the first)")
    at: UtcDateTime = Field(description="When")
    actor_kind: str = Field(description="patient | professional | operator")
    actor_id: str = Field(description="Matricule, directory id or agent id")
    action: str = Field(description="read, manage, or the command's name")
    document: str | None = Field(default=None, description="The document read, if one")
    allowed: bool
    reason: str = Field(description="The rule or grant it rests on, or why not")


class AuditPage(_Open):
    entries: list[AuditEntry] = Field(description="Newest first")
    next_before_seq: int | None = Field(default=None, description="Pass as before_seq for the next page; none: "
                                                                  "no more")


class ProPatient(_Open):
    patient: str = Field(description="The patient's matricule")
    grant: str = Field(description="The grant the professional reads under")
    ends_at: UtcDateTime | None = Field(default=None, description="When that grant ends; none: no end")


class ProPatients(_Open):
    patients: list[ProPatient] = Field(description="The patients whose DSP the professional may read now")


class CommandResult(BaseModel):
    """An access command applied (a refusal is a problem with the reason)."""

    reason: str = Field(description="What access did")
    next_step: str | None = Field(default=None, description="What comes next, if anything")
    details: Details = Field(default_factory=dict)


class PresencePassword(CommandResult):
    presence_password: str = Field(description="Shown once (XXXX-XXXX); access keeps only its hash")
