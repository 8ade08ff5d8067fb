"""The portal API's document and notification screens: latest documents, search, the 'Ligne de vie', a document's
detail (observations, every version, the file), the outcome of an upload or block, the notification list.

Documents are records' answers, served as records gives them (`schemas.records_api`: the one definition of a
document, its versions and observations); notices are notify's (`schemas.notify`). What the portal adds is here:
a document's prescriber named as the directory of professionals lists them (access's copy), the outcome of an
asynchronous write as the portal names it, and the body that marks notices read (its recipient is the person
logged in, never the client's word).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .fields import MessageId, UtcDateTime
from .notify import MarkReadResultV1 as MarkReadResult
from .notify import NotificationPageV1 as NotificationPage
from .notify import NotificationV1 as Notification
from .records_api import (
    AnalyteHistories,
    AnalyteHistory,
    AnalyteResult,
    DocumentFileInfo,
    DocumentPage,
    DocumentSummary,
    DocumentVersion,
)
from .records_api import DocumentDetail as RecordsDocumentDetail

__all__ = ["AnalyteHistories", "AnalyteHistory", "AnalyteResult", "CommandOutcome", "CommandState", "DocumentDetail",
           "DocumentFileInfo", "DocumentPage", "DocumentSummary", "DocumentVersion", "MarkRead", "MarkReadResult",
           "Notification", "NotificationPage", "Order"]

Order = Literal["reported_at", "document_date"]


class DocumentDetail(RecordsDocumentDetail):
    """One document as records gives it, its prescriber named."""

    model_config = ConfigDict(title="DocumentDetail")

    prescriber_name: str | None = Field(
        default=None, description="The prescriber's name, as the directory of professionals lists it (what to show "
                                  "rather than `prescriber_id`); none when no prescriber is named or the directory "
                                  "does not know the id")


class CommandState(StrEnum):
    """Where an upload, block or unblock stands."""

    PENDING = "pending"  # sent, not applied yet (or not known to records yet)
    APPLIED = "applied"  # records applied it: the document is stored, blocked or shown again
    REJECTED = "rejected"  # records refused it for good: `reason` says why


class CommandOutcome(BaseModel):
    """`GET /v1/me/commands/{command_id}`: the outcome of an upload, block or unblock sent by the portal."""

    model_config = ConfigDict(title="CommandOutcome")

    command_id: str = Field(description="The command, as the upload or block answered it")
    status: CommandState = Field(description="pending: not applied yet, ask again shortly; applied: done; "
                                             "rejected: refused for good (see reason)")
    command: Literal["upload-document", "block-document", "unblock-document"] | None = Field(
        description="What the command was (none while pending)")
    document_id: str | None = Field(description="The document it concerns (none while pending)")
    reason: str | None = Field(description="Why it was rejected")
    at: UtcDateTime | None = Field(description="When it was applied or rejected")


class MarkRead(BaseModel):
    """`POST /v1/me/notifications/read`: mark some notices read (`ids`), or every one (`all: true`)."""

    model_config = ConfigDict(extra="forbid", title="MarkRead")

    ids: list[MessageId] | None = Field(default=None, max_length=200,
                                        description="The notices to mark read (ids of the list; unknown ones ignored)")
    all: bool = Field(default=False, description="Mark every notice read")

    @model_validator(mode="after")
    def _ids_or_all(self) -> MarkRead:
        if (self.ids is not None) == self.all:
            raise ValueError("give either ids or all: true")
        return self
