"""Contracts of the access service: `access.commands.v1`, `access.events.v1`, `access.grant-expired.v1`.

Commands are keyed by the patient's matricule, so one patient's commands are applied in order.
Every command gets exactly one outcome on `access.events.v1` (accepted or refused, with the reason);
the gateway waits for it by `command_id`.

Below the topic contracts: the bodies and answers of access's HTTP API (decisions, presence passwords, and the
portal's reads — access state, audit trail, patients of a professional, assisted DSPs, person lookup, the
professional directory).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, RootModel, StringConstraints, model_validator

from .fields import IDENTIFIER_PATTERN, Matricule, MessageId, UtcDateTime, check_matricule

_ID = re.compile(IDENTIFIER_PATTERN)
CURSOR = Field(default=None, max_length=512, description="`next_cursor` of the previous page; none: the first page")
ProfessionalId = Annotated[str, Field(pattern=IDENTIFIER_PATTERN,
                                      description="Professional's directory id")]
PRESENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud at a practice's front desk
PRESENCE_PATTERN = rf"^[{PRESENCE_ALPHABET}]{{4}}-[{PRESENCE_ALPHABET}]{{4}}$"
PresencePasswordText = Annotated[str, StringConstraints(pattern=PRESENCE_PATTERN)]
"""A presence password as generated and shown (XXXX-XXXX over `PRESENCE_ALPHABET`); access's presence use
case (`services/access/service/presence.py`) generates from the same alphabet and normalises what a professional
types to this form."""

GrantKindName = Literal["trusted-circle", "presence-password", "emergency"]
"""The kinds of grant a professional reads a DSP with: access's grant-kind table (`services/access/domain/grants.py`),
one name per row; a new kind is one name here."""


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
    """Add a professional to the trusted circle (one by one, never practice-wide), or remove them; make a circle
    member the referring GP, or clear that mark (the professional stays in the circle)."""

    command: Literal["add-to-circle", "remove-from-circle", "set-referring-gp", "unset-referring-gp"]
    professional_id: ProfessionalId = Field(description="The professional (directory id)")
    period_days: int | None = Field(default=None, ge=0, le=365,
                                    description="Access period when adding (0-365 days); none: no end")


class ProfessionalCommand(_Command):
    """Block or unblock a professional; set a circle member's access period; revoke a grant."""

    command: Literal["block-professional", "unblock-professional", "set-access-period", "revoke-grant"]
    professional_id: ProfessionalId = Field(description="The professional (directory id)")
    days: int | None = Field(default=None, ge=0, le=365, description="set-access-period: 0-365 days from now")
    grant: GrantKindName | None = Field(
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
    grant: Literal[GrantKindName, "assistant"] = Field(description="Kind")
    subject: Annotated[str, StringConstraints(max_length=64)] = Field(description="Professional id or matricule")
    ends_at: AwareDatetime = Field(description="The end the sweeper found due (a renewed grant is left alone)")


class SetDocumentVisibility(_Command):
    """Internal, from records' `records.document-visibility.v1`: hide a document from professionals, or not."""

    command: Literal["set-document-visibility"]
    document_id: Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)] = Field(
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
    grant: Literal[GrantKindName, "assistant"] = Field(description="Kind")
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
    document: Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)] | None = Field(
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
    before_seq: int | None = Field(default=None, ge=0, description="Deprecated audit paging (use cursor)")
    cursor: str | None = CURSOR


class ProfessionalQuery(BaseModel):
    """`POST /v1/patients-of` on access: the patients a professional may read now."""

    model_config = ConfigDict(extra="forbid", title="ProfessionalQuery")

    professional_id: ProfessionalId = Field(description="The professional (directory id)")
    limit: int = Field(default=200, ge=1, le=1000, description="At most this many patients")
    cursor: str | None = CURSOR


class PresenceGenerateRequest(BaseModel):
    """`POST /v1/presence/generate` on access: a new presence password for the patient, returned once."""

    model_config = ConfigDict(extra="forbid")

    command_id: MessageId = Field(description="The id of the internal command whose outcome the caller awaits")
    patient: Matricule = Field(description="Whose presence password")
    actor: ActorRef = Field(description="The owner or an assistant (the gateway authenticated them)")
    delivery: Literal["letter", "inapp", "none"] = Field(default="none", description="Also send it (sealed)")


class PresenceGenerated(BaseModel):
    """The answer of `POST /v1/presence/generate`: the password, shown once (access keeps only its hash)."""

    command_id: MessageId = Field(description="The internal command whose outcome the caller awaits")
    presence_password: PresencePasswordText = Field(description="XXXX-XXXX, shown once")


class PresenceRedeemRequest(BaseModel):
    """`POST /v1/presence/redeem` on access: a professional types a patient's presence password."""

    model_config = ConfigDict(extra="forbid")

    command_id: MessageId = Field(description="The id of the internal command whose outcome the caller awaits")
    patient: Matricule = Field(description="Whose DSP")
    professional_id: ProfessionalId = Field(description="Who typed it (the gateway authenticated them)")
    password: Annotated[str, StringConstraints(max_length=32)] = Field(description="As typed (XXXX-XXXX)")


# --- access's read API for the portal (`POST` + JSON on access's own port; the gateway calls it) -------------------
# Every date-time is RFC 3339 in UTC with a `Z`; every list is cursor-paged (`items`, `next_cursor`).

AssistantKind = Literal["parent-of-minor", "designated-assistant"]
PersonName = Annotated[str | None, Field(description="Given and family name as registered; none: not known yet")]


class ProfessionalRef(BaseModel):
    """A professional as a person reads them: name, profession and specialty from access's directory copy."""

    professional_id: str = Field(description="The professional's directory id")
    name: str | None = Field(description="Given and family name; none: not in the directory")
    profession: str | None = Field(description="e.g. 'Médecin'; none: not in the directory")
    specialty: str | None = Field(description="e.g. 'Médecine générale', if any")


class GrantV1(ProfessionalRef):
    """A grant in force or on record: trusted-circle membership, a presence-password or an emergency grant."""

    kind: GrantKindName = Field(description="Which grant")
    granted_at: UtcDateTime = Field(description="Since when")
    ends_at: UtcDateTime | None = Field(description="When it ends; none: no end (a circle member by default)")


class AssistantV1(BaseModel):
    """A DSP assistant ("Accompagnateur") of the patient."""

    matricule: Matricule = Field(description="The assistant's matricule")
    name: PersonName
    kind: AssistantKind = Field(description="parent-of-minor: a registered guardian of a minor patient (the link "
                                            "ends at majority unless confirmed); designated-assistant: any other")
    since: UtcDateTime | None = Field(description="When the link was made; none: before access kept it")
    ends_at: UtcDateTime | None = Field(description="When the link ends; none: no end")


class ConsentV1(BaseModel):
    consent: str = Field(description="Which consent, e.g. organ-donation")
    value: bool = Field(description="Yes or no")
    at: UtcDateTime = Field(description="When it was recorded")
    by: str = Field(description="Who recorded it (the owner's or an assistant's matricule)")


class AccessStateV1(BaseModel):
    """`POST /v1/access-state`: who may read the DSP and how, blocks, assistants, consents."""

    patient: Matricule = Field(description="Whose DSP")
    patient_name: str | None = Field(default=None, description="The patient's name, as the registry gives it")
    version: int = Field(ge=0, description="The stored state's version")
    grants: list[GrantV1] = Field(description="Trusted circle, presence-password and emergency grants, named")
    referring_gp: ProfessionalRef | None = Field(description="The referring GP (one of the trusted circle)")
    blocked_professionals: list[ProfessionalRef] = Field(description="Professionals the patient blocked, named")
    blocked_documents: list[str] = Field(description="Documents hidden from every professional")
    assistants: list[AssistantV1] = Field(description="DSP assistants, named")
    emergency_refused: bool = Field(description="True: no professional may use emergency access")
    presence_password: bool = Field(description="A presence password is set (never the password itself)")
    consents: list[ConsentV1] = Field(description="Every consent recorded, oldest first")


class AuditActor(BaseModel):
    """Who did it: a person (owner or assistant), a professional (named from the directory) or the agency."""

    kind: Literal["patient", "professional", "operator"] = Field(description="patient | professional | operator")
    id: str = Field(description="Matricule, directory id or the agency's service")
    name: str | None = Field(description="The person's or professional's name, or 'Agence eSanté'")
    profession: str | None = Field(default=None, description="A professional's profession")
    specialty: str | None = Field(default=None, description="A professional's specialty")


class AuditEntryV1(BaseModel):
    """One entry of the audit trail ("Traçabilité") as the patient reads it; the hash chain is not shown here
    (it is checked by the `verify-audit-trail` command, whose outcome names the chain's head)."""

    at: UtcDateTime = Field(description="When")
    who: AuditActor = Field(description="Who acted")
    action: str = Field(description="read | manage | a command's name (add-to-circle, break-the-glass, ...)")
    document_id: str | None = Field(description="The document read, if one was")
    allowed: bool = Field(description="Whether it was allowed (or the command accepted)")
    reason: str = Field(description="The rule or grant it rested on, or why it was refused")
    justification: str | None = Field(default=None, description="Break the glass: the professional's justification")


class AuditPage(BaseModel):
    """`POST /v1/audit`: the patient's audit trail, newest first."""

    items: list[AuditEntryV1] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Send back as `cursor` for older entries; none: no more")
    entries: list[dict[str, Any]] = Field(default_factory=list, description="Deprecated: the page in the old flat "
                                          "shape (actor_kind, actor_id, seq, ...) until the gateway reads `items`")


class PatientOfV1(BaseModel):
    """A patient whose DSP the professional may read now."""

    patient: Matricule = Field(description="The patient's matricule")
    name: PersonName
    grant: str = Field(description="The rule it rests on: trusted-circle | referring GP | presence-password | "
                                   "emergency")
    since: UtcDateTime = Field(description="When the grant began")
    ends_at: UtcDateTime | None = Field(description="When the grant ends; none: no end")


class PatientsOfPage(BaseModel):
    """`POST /v1/patients-of`: by matricule."""

    professional: ProfessionalRef = Field(description="The professional asking, named")
    items: list[PatientOfV1] = Field(description="By matricule")
    next_cursor: str | None = Field(description="Send back as `cursor` for the next page; none: no more")
    patients: list[PatientOfV1] = Field(default_factory=list, description="Deprecated: the same as items")


class AssistedQuery(BaseModel):
    """`POST /v1/assisted`: the DSPs a person assists now ("Accéder aux autres dossiers patient")."""

    model_config = ConfigDict(extra="forbid", title="AssistedQuery")

    user: Matricule = Field(description="The person logged in (the gateway authenticated them)")
    cursor: str | None = CURSOR
    limit: int = Field(default=50, ge=1, le=100, description="At most this many DSPs per page")


class AssistedV1(BaseModel):
    patient: Matricule = Field(description="Whose DSP (send it as X-DSP-Patient to act on it)")
    name: PersonName
    kind: AssistantKind = Field(description="parent-of-minor | designated-assistant")
    since: UtcDateTime | None = Field(description="When the link was made; none: before access kept it")
    ends_at: UtcDateTime | None = Field(description="When the link ends (a minor's majority); none: no end")


class AssistedPage(BaseModel):
    items: list[AssistedV1] = Field(description="By the patient's matricule")
    next_cursor: str | None = Field(description="Send back as `cursor` for the next page; none: no more")


class PersonLookup(BaseModel):
    """`POST /v1/persons/lookup`: the name of the adult a patient is about to add as their DSP assistant."""

    model_config = ConfigDict(extra="forbid", title="PersonLookup")

    actor: ActorRef = Field(description="The person adding (the gateway authenticated them)")
    matricule: Matricule = Field(description="The matricule typed ('Numéro assuré')")


class PersonV1(BaseModel):
    """A registered adult (the only people a lookup answers for: anyone else is the same 404)."""

    matricule: Matricule = Field(description="As typed")
    name: PersonName


SearchText = Annotated[str, StringConstraints(min_length=2, max_length=60, strip_whitespace=True,
                                              pattern=r"^[^\x00-\x1f\x7f]+$")]


class ProfessionalSearch(BaseModel):
    """`POST /v1/professionals/search`: active professionals whose given or family name starts with `q`."""

    model_config = ConfigDict(extra="forbid", title="ProfessionalSearch")

    q: SearchText = Field(description="Name prefix, 2-60 characters (case and accents ignored)")
    cursor: str | None = CURSOR
    limit: int = Field(default=20, ge=1, le=50, description="At most this many professionals per page")


class ProfessionalV1(BaseModel):
    professional_id: str = Field(description="Directory id (add-to-circle takes it)")
    given_name: str = Field(description="Given name(s)")
    family_name: str = Field(description="Family name")
    name: str = Field(description="Given and family name")
    profession: str = Field(description="e.g. 'Médecin'")
    specialty: str | None = Field(description="e.g. 'Médecine générale', if any")
    practice_id: str | None = Field(description="The practice (access is never practice-wide)")


class ProfessionalPage(BaseModel):
    items: list[ProfessionalV1] = Field(description="By family name, then given name")
    next_cursor: str | None = Field(description="Send back as `cursor` for the next page; none: no more")


class ProfessionalGet(BaseModel):
    """`POST /v1/professionals/get`: one professional, listed or not (the gateway's professional login)."""

    model_config = ConfigDict(extra="forbid", title="ProfessionalGet")

    professional_id: ProfessionalId


class ProfessionalStatusV1(BaseModel):
    professional_id: str = Field(description="As asked")
    listed: bool = Field(description="The directory lists (or listed) them")
    active: bool = Field(description="Listed and still active")
    name: str | None = Field(description="Given and family name; none: not listed")
    profession: str | None = Field(description="none: not listed")
    specialty: str | None = Field(description="If any")


class GlassBreakerV1(BaseModel):
    """A professional who broke the glass on unusually many patients (the operations console: no patient named)."""

    professional_id: str = Field(description="The professional's directory id")
    patients: int = Field(ge=0, description="Different patients whose DSP they opened in an emergency, in the window")
    uses: int = Field(ge=0, description="Breaks of the glass in the window")
    last_at: UtcDateTime = Field(description="The latest one")


class BreakTheGlassWatchV1(BaseModel):
    """The professionals who broke the glass on at least `threshold` different patients in the sliding window."""

    window_hours: int = Field(ge=1, description="The sliding window, in hours (24)")
    threshold: int = Field(ge=1, description="Different patients in the window from which a professional is shown")
    professionals: list[GlassBreakerV1] = Field(description="Most patients first; empty: nobody")


class AccessStatsV1(BaseModel):
    """`POST /v1/stats` on access (the console only): grant counts and the break-the-glass watch."""

    grants: dict[str, int] = Field(description="Time-limited grants: active, expiring within 24 h, expired")
    break_the_glass: BreakTheGlassWatchV1 = Field(description="Professionals breaking the glass unusually often")
