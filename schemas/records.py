"""Contracts of the records service: `records.document-added.v1` (events) and `records.commands.v1`."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, RootModel

from .fields import Identifier, Matricule, MessageId, ShortText


class DocumentChange(StrEnum):
    ADDED = "added"
    CORRECTED = "corrected"
    WITHDRAWN = "withdrawn"


class DocumentAddedV1(BaseModel):
    """A document entered a patient's DSP, or its current version changed (key: patient matricule)."""

    model_config = ConfigDict(extra="ignore", title="DocumentAddedV1")

    event_id: str = Field(description="Deterministic: the same stored version always yields the same id")
    document_id: str = Field(description="DSP document id (stable across versions)")
    patient_matricule: Matricule
    document_type: Literal["lab-result", "patient-upload"] = Field(description="Kind of document")
    title: ShortText = Field(description="Document title")
    author: ShortText = Field(description="Author: the laboratory id, or 'patient' for uploads")
    document_date: AwareDatetime = Field(description="Clinical date (collection / upload time)")
    change: DocumentChange = Field(description="added | corrected | withdrawn")
    version: int = Field(ge=1, description="Number of versions the document now has")


class UploadDocument(BaseModel):
    """The patient (or an assistant) deposits a document ('Déposer un document')."""

    command: Literal["upload-document"] = "upload-document"
    command_id: MessageId = Field(description="Unique id; a redelivered command is applied once")
    patient_matricule: Matricule
    uploaded_by: Matricule = Field(description="The owner or one of their DSP assistants")
    title: ShortText = Field(description="Title given by the patient")
    content_type: Literal["application/pdf", "image/jpeg", "image/png"] = Field(description="Declared type")
    data_base64: str = Field(description="The document, base64; its real type must match content_type")
    document_date: AwareDatetime | None = Field(default=None, description="Clinical date, if known")


class SetDocumentBlocked(BaseModel):
    """Block (hide from every professional) or unblock one document."""

    command: Literal["block-document", "unblock-document"]
    command_id: MessageId = Field(description="Unique id; a redelivered command is applied once")
    patient_matricule: Matricule
    requested_by: Matricule = Field(description="The owner or one of their DSP assistants")
    document_id: Identifier = Field(description="The document to block or unblock")


class RecordsCommandV1(RootModel[Annotated[UploadDocument | SetDocumentBlocked, Field(discriminator="command")]]):
    """A command on `records.commands.v1` (key: patient matricule), told apart by its `command` field."""

    model_config = ConfigDict(title="RecordsCommandV1")


class DocumentVisibilityChangedV1(BaseModel):
    """A document was blocked (hidden from every professional) or unblocked (key: patient matricule)."""

    model_config = ConfigDict(extra="ignore", title="DocumentVisibilityChangedV1")

    event_id: str = Field(description="Deterministic: derived from the command id")
    document_id: Identifier = Field(description="DSP document id")
    patient_matricule: Matricule
    blocked: bool = Field(description="True: hidden from every professional")
    at: AwareDatetime = Field(description="When records applied the change")
