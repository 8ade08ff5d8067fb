"""Contract `notify.requests.v1`: a request to notify a person (key: request_id)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .fields import Identifier, Matricule, MessageId

ParamValue = Annotated[str, StringConstraints(max_length=500)]


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
