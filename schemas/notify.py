"""Contract `notify.requests.v1`: a request to notify a person (key: request_id)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from .fields import Identifier, Matricule, MessageId

ParamValue = Annotated[str, StringConstraints(max_length=500)]
SealedText = Annotated[str, StringConstraints(max_length=8192, pattern=r"^[A-Za-z0-9+/]+={0,2}$")]


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    LETTER = "letter"
    INAPP = "inapp"


class Locale(StrEnum):
    FR = "fr"
    DE = "de"
    EN = "en"


class NotificationRequestV1(BaseModel):
    model_config = ConfigDict(extra="ignore", title="NotificationRequestV1")

    request_id: MessageId = Field(description="Unique id: a redelivered request is never sent twice")
    channel: Channel = Field(description="email | sms | letter | inapp")
    template_id: Identifier = Field(description="Template, e.g. 'document-added'")
    locale: Locale = Field(default=Locale.FR, description="fr | de | en")
    recipient: Matricule = Field(description="The person notified (their matricule)")
    parameters: dict[Identifier, ParamValue] = Field(default_factory=dict, max_length=30,
                                                     description="Template parameters")
    destination: Annotated[str, StringConstraints(max_length=254)] | None = Field(
        default=None, description="E-mail address or E.164 mobile number chosen by the person; default: the "
                                  "registry's (added in v1, optional)")
    sealed_parameters: SealedText | None = Field(
        default=None, description="Template parameters that are secrets (codes, passwords), sealed to notify's public "
                                  "key (base64 of a NaCl sealed box, bound to this request); merged into parameters "
                                  "when rendering, never stored or logged (added in v1, optional)")


class DeliveryV1(BaseModel):
    """`notify.events.v1`: what became of a request (key: request_id). Never carries the message's content."""

    model_config = ConfigDict(extra="ignore", title="DeliveryV1")

    event_id: str = Field(description="Deterministic: request id + status")
    request_id: MessageId = Field(description="The request this reports on")
    channel: Channel = Field(description="email | sms | letter | inapp")
    template_id: Identifier = Field(description="The template used")
    status: Literal["delivered", "failed"] = Field(description="delivered, or failed for good (see reason)")
    reason: str = Field(default="", description="Why it failed")
    attempts: int = Field(ge=1, description="Delivery attempts made")
    at: AwareDatetime = Field(description="When")
