"""Contracts of notify: `notify.requests.v1` (a request to notify a person, key: request_id), `notify.events.v1`,
and the bodies of notify's internal read API (the notification list, marking notices read, the console's counts)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from .fields import Identifier, Matricule, MessageId, UtcDateTime

ParamValue = Annotated[str, StringConstraints(max_length=500)]
SealedText = Annotated[str, StringConstraints(max_length=8192, pattern=r"^[A-Za-z0-9+/]+={0,2}$")]


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    LETTER = "letter"
    INAPP = "inapp"
    PREFERRED = "preferred"  # a request only: e-mail or SMS, the one the person chose (notify resolves it)


class Locale(StrEnum):
    FR = "fr"
    DE = "de"
    EN = "en"


class NotificationRequestV1(BaseModel):
    model_config = ConfigDict(extra="ignore", title="NotificationRequestV1")

    request_id: MessageId = Field(description="Unique id: a redelivered request is never sent twice")
    channel: Channel = Field(description="email | sms | letter | inapp | preferred: the e-mail or SMS the person "
                                         "chose at activation, else the registry's e-mail, else its mobile (notify "
                                         "resolves it; added in v1)")
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
    channel: Channel = Field(description="email | sms | letter | inapp: the channel it went out on (a request for "
                                         "the preferred channel says which; preferred if it failed before)")
    template_id: Identifier = Field(description="The template used")
    status: Literal["delivered", "failed"] = Field(description="delivered, or failed for good (see reason)")
    reason: str = Field(default="", description="Why it failed")
    attempts: int = Field(ge=1, description="Delivery attempts made")
    at: AwareDatetime = Field(description="When")


class NotificationListQuery(BaseModel):
    """`POST /v1/notifications/list` on notify: a person's in-app notices, newest first, one page."""

    model_config = ConfigDict(extra="forbid", title="NotificationListQuery")

    recipient: Matricule = Field(description="Whose notices (the gateway authenticated the caller for this DSP)")
    cursor: Annotated[str, StringConstraints(max_length=512)] | None = Field(
        default=None, description="The previous page's next_cursor; none: the first page")
    limit: int = Field(default=50, ge=1, le=200, description="Notices per page")
    unread_only: bool = Field(default=False, description="Only the notices not yet marked read")


class NotificationV1(BaseModel):
    """One in-app notice as the person reads it (secrets masked as they were stored)."""

    model_config = ConfigDict(title="NotificationV1")

    id: str = Field(description="The notice's id (to mark it read)")
    template: str = Field(description="What kind of notice, e.g. 'document-added', 'first-access'")
    subject: str = Field(description="Its subject, in the person's language")
    body: str = Field(description="Its text, in the person's language")
    at: UtcDateTime = Field(description="When notify delivered it")
    read: bool = Field(description="Marked read by the person")


class NotificationPageV1(BaseModel):
    """A page of the notification list."""

    model_config = ConfigDict(title="NotificationPageV1")

    items: list[NotificationV1] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Send it back as cursor for the next page; none: this was the last")
    unread: int = Field(ge=0, description="The person's unread notices in all (not only on this page)")


class MarkReadRequest(BaseModel):
    """`POST /v1/notifications/read` on notify: mark some of a person's notices read, or all of them."""

    model_config = ConfigDict(extra="forbid", title="MarkReadRequest")

    recipient: Matricule = Field(description="Whose notices; another person's are never touched")
    ids: list[MessageId] | None = Field(default=None, max_length=200,
                                        description="The notices to mark read (unknown ids are ignored)")
    all: bool = Field(default=False, description="Mark every notice of the person read")

    @model_validator(mode="after")
    def _ids_or_all(self) -> MarkReadRequest:
        if (self.ids is not None) == self.all:  # neither, or both
            raise ValueError("give either ids or all: true")
        return self


class MarkReadResultV1(BaseModel):
    model_config = ConfigDict(title="MarkReadResultV1")

    updated: int = Field(ge=0, description="Notices that were unread and are now read (0 when repeated)")
    unread: int = Field(ge=0, description="The person's unread notices left")


class StatsQuery(BaseModel):
    """`POST /v1/stats` on notify (the console): no parameters."""

    model_config = ConfigDict(extra="forbid", title="StatsQuery")


class ChannelCountsV1(BaseModel):
    delivered: int = Field(ge=0, description="Requests delivered on this channel")
    failed: int = Field(ge=0, description="Requests failed for good on this channel")


class NotifyStatsV1(BaseModel):
    """What the operations console shows about notify."""

    model_config = ConfigDict(title="NotifyStatsV1")

    letters_sent: int = Field(ge=0, description="Activation letters delivered (the activation funnel's first step)")
    channels: dict[Channel, ChannelCountsV1] = Field(description="Delivered and failed, per channel")
