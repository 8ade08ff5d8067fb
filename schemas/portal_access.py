"""The portal API's access screens: the commands a patient sends, who has access, the audit trail, a
professional's patients.

`PatientAccessCommand` is the body of `POST /v1/me/access/commands`: a union, told apart by `command`, of the
patient's commands of `schemas.access` (`PATIENT_COMMANDS`, an allow-list: an internal command access adds later
is not a patient's until it is listed here), each without `command_id`, `patient` and `actor` — the gateway
sets them. The state, the assisted DSPs, the person lookup and the directory search are access's answers
(`schemas.access`); the audit trail is access's with the documents' titles added from records. Dates are RFC 3339
UTC `Z`, lists cursor pages.
"""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

from . import access
from .fields import Matricule, UtcDateTime
from .portal import Details

PATIENT_COMMANDS = ("add-to-circle", "remove-from-circle", "set-referring-gp", "unset-referring-gp",
                    "block-professional", "unblock-professional", "set-access-period", "revoke-grant",
                    "set-emergency-access", "add-assistant", "remove-assistant", "confirm-assistant", "record-consent",
                    "verify-audit-trail")
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


AccessState = access.AccessStateV1  # who may read the DSP and how, blocks, assistants, consents: all named
AssistedPage = access.AssistedPage  # the DSPs the person logged in assists ("Accéder aux autres dossiers patient")
Person = access.PersonV1  # the adult a patient is about to add as DSP assistant
ProfessionalPage = access.ProfessionalPage  # the directory search
AuditActor = access.AuditActor


class PersonLookup(BaseModel):
    """`POST /v1/me/assistants/lookup`: the 'Numéro assuré' typed; the answer names the person to confirm."""

    model_config = ConfigDict(extra="forbid", title="AssistantLookup")

    matricule: Matricule = Field(description="The matricule of the adult to add as DSP assistant")


class AuditEntry(BaseModel):
    """One entry of the audit trail ('Traçabilité'): who (named), what (the document's title), when, allowed or
    not and why, a break-the-glass justification. The hash chain is checked by `verify-audit-trail`."""

    model_config = ConfigDict(title="AuditEntry")

    at: UtcDateTime = Field(description="When")
    who: AuditActor = Field(description="Who acted: the owner, an assistant, a professional (named) or the agency")
    action: str = Field(description="read | manage | a command's name (add-to-circle, break-the-glass, ...)")
    document_id: str | None = Field(description="The document read, if one was")
    document_title: str | None = Field(description="Its title (none: no document, or no longer in the DSP)")
    allowed: bool = Field(description="Whether it was allowed (or the command accepted)")
    reason: str = Field(description="The rule or grant it rested on, or why it was refused")
    justification: str | None = Field(description="Break the glass: the professional's justification")


class AuditPage(BaseModel):
    model_config = ConfigDict(title="AuditPage")

    items: list[AuditEntry] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Send back as `cursor` for older entries; none: no more")


class ProPatients(BaseModel):
    """The patients whose DSP the professional may read now, by matricule, named, with the grant."""

    model_config = ConfigDict(title="ProPatients")

    professional: access.ProfessionalRef = Field(description="The professional logged in, named")
    items: list[access.PatientOfV1] = Field(description="By matricule")
    next_cursor: str | None = Field(description="Send back as `cursor` for the next page; none: no more")


class CommandResult(BaseModel):
    """An access command applied (a refusal is a problem with the reason)."""

    reason: str = Field(description="What access did")
    next_step: str | None = Field(default=None, description="What comes next, if anything")
    details: Details = Field(default_factory=dict)


class PresencePassword(CommandResult):
    presence_password: str = Field(description="Shown once (XXXX-XXXX); access keeps only its hash")
