"""Contracts of records' internal read API (`POST` + JSON on records' own port, service tokens: the gateway, and
the console for `/v1/stats`). The caller has had access decide first; records applies what the viewer may see:
a professional never sees a blocked document. Lists are cursor-paged (`items`, `next_cursor`)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from .fields import Identifier, Matricule, MessageId, UtcDateTime
from .lab_result import LOINC, Observation
from .records import DocumentChange

Viewer = Literal["patient", "professional"]
CURSOR = "`next_cursor` of the previous page; none: the first page"


class _Viewed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patient: Matricule = Field(description="Whose DSP")
    viewer: Viewer = Field(default="patient", description="patient: the owner or a DSP assistant (blocked documents "
                                                          "included); professional: blocked documents hidden")


class DocumentsQuery(_Viewed):
    """`POST /v1/documents`: a patient's documents, newest first, or those matching a keyword search."""

    model_config = ConfigDict(extra="forbid", title="DocumentsQuery")

    q: str | None = Field(default=None, max_length=100,
                          description="Keyword search: every word (2+ characters, case and accents ignored) must be in "
                                      "the title, the laboratory or an observation's name")
    sort: Literal["document_date", "reported_at"] = Field(
        default="document_date", description="Newest first by clinical date (all documents) or by arrival (latest)")
    include_withdrawn: bool = Field(default=False, description="Also list lab results their laboratory withdrew")
    cursor: str | None = Field(default=None, max_length=512, description=CURSOR)
    limit: int = Field(default=20, ge=1, le=100, description="At most this many documents per page")


class TimelineQuery(_Viewed):
    """`POST /v1/documents/timeline`: the 'Ligne de vie', oldest first, clinical dates in [start, end)."""

    model_config = ConfigDict(extra="forbid", title="TimelineQuery")

    start: AwareDatetime = Field(description="From this clinical date (included)")
    end: AwareDatetime = Field(description="Until this clinical date (excluded)")
    cursor: str | None = Field(default=None, max_length=512, description=CURSOR)
    limit: int = Field(default=100, ge=1, le=500, description="At most this many documents per page")

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class DocumentQuery(_Viewed):
    """`POST /v1/documents/detail`: one document of the patient's DSP."""

    model_config = ConfigDict(extra="forbid", title="DocumentQuery")

    document_id: Identifier = Field(description="The document")


class DetailsQuery(_Viewed):
    """`POST /v1/documents/details`: many documents' details in one answer — the ones named (`document_ids`), or a
    page of all the patient's documents (newest first by `sort`, `cursor`, `limit`) — with their files if asked.
    The same viewer rules as `/v1/documents/detail` and `/v1/documents/file`: a professional never sees a blocked
    document (a named one is left out, as another patient's or an unknown id is: listed in `missing`)."""

    model_config = ConfigDict(extra="forbid", title="DetailsQuery")

    document_ids: list[Identifier] | None = Field(
        default=None, min_length=1, max_length=200,
        description="Up to 200 documents, answered in this order; none: a page of all the patient's documents")
    sort: Literal["document_date", "reported_at"] = Field(
        default="document_date", description="Without `document_ids`: newest first by clinical date or by arrival")
    include_withdrawn: bool = Field(default=False, description="Without `document_ids`: also the lab results their "
                                                               "laboratory withdrew (named ones are always answered)")
    cursor: str | None = Field(default=None, max_length=512, description=CURSOR + " (without `document_ids`)")
    limit: int = Field(default=100, ge=1, le=200, description="Without `document_ids`: at most this many documents")
    files: bool = Field(default=False, description="Also answer the file of every version that has one (base64)")

    @model_validator(mode="after")
    def _named_or_paged(self) -> Self:
        if self.document_ids is not None and self.cursor is not None:
            raise ValueError("a cursor pages all the patient's documents: send it without document_ids")
        return self


class OwnerQuery(BaseModel):
    """`POST /v1/documents/owner`: whose DSP a document is in — for a read by id that names no patient (the FHIR
    door's `DocumentReference/{id}`): the gateway then has access decide on that DSP and that document (audited,
    a blocked document refused there), and reads it as any other read, naming the patient and the viewer. Any
    document, blocked ones included (its owner is not shown to anyone: it only says which DSP access decides on)."""

    model_config = ConfigDict(extra="forbid", title="OwnerQuery")

    document_id: Identifier = Field(description="The document")


class ValuesQuery(_Viewed):
    """`POST /v1/documents/values`: every result of some analytes (by LOINC code) in the patient's lab results."""

    model_config = ConfigDict(extra="forbid", title="ValuesQuery")

    loinc: list[LOINC] = Field(min_length=1, max_length=50, description="The analytes' LOINC codes")


class FileQuery(DocumentQuery):
    """`POST /v1/documents/file`: the file of a document's current version, or of an earlier one."""

    model_config = ConfigDict(extra="forbid", title="FileQuery")

    version: int | None = Field(default=None, ge=1, description="A version number (see the detail); none: current")


class CommandStatusQuery(BaseModel):
    """`POST /v1/commands/status`: what became of an upload, block or unblock command sent to records."""

    model_config = ConfigDict(extra="forbid", title="CommandStatusQuery")

    patient: Matricule = Field(description="The command's patient (another patient's command is not found)")
    command_id: MessageId = Field(description="The command's id")


class TitlesQuery(BaseModel):
    """`POST /v1/documents/titles`: name a patient's documents (e.g. in the audit trail the patient reads)."""

    model_config = ConfigDict(extra="forbid", title="TitlesQuery")

    patient: Matricule = Field(description="Whose DSP (another patient's documents are left out)")
    ids: list[Identifier] = Field(max_length=200, description="Up to 200 document ids")


class StatsQuery(BaseModel):
    """`POST /v1/stats` (the console): counts, nothing personal."""

    model_config = ConfigDict(extra="forbid", title="StatsQuery")


class DocumentSummary(BaseModel):
    """A document as lists show it."""

    model_config = ConfigDict(title="DocumentSummary")

    id: str = Field(description="DSP document id (stable across versions)")
    document_type: Literal["lab-result", "patient-upload"] = Field(description="Kind of document")
    title: str = Field(description="Title (of the current version)")
    author: str = Field(description="The laboratory id, or 'patient' for an upload")
    laboratory_name: str | None = Field(
        default=None, description="The laboratory's name, as the directory lists it (what to show rather than its id); "
                                  "none for an upload, or for a laboratory the directory has not named")
    document_date: UtcDateTime = Field(description="Clinical date: collection time, or the upload's date")
    reported_at: UtcDateTime = Field(description="When the current version was reported (or uploaded)")
    status: Literal["active", "withdrawn"] = Field(description="withdrawn: the laboratory cancelled the result")
    blocked: bool = Field(description="Hidden from every professional by the patient")
    version_count: int = Field(ge=1, description="Versions the document has")
    has_file: bool = Field(description="The current version has a file (PDF, JPEG or PNG)")


class DocumentPage(BaseModel):
    model_config = ConfigDict(title="DocumentPage")

    items: list[DocumentSummary] = Field(description="This page's documents")
    next_cursor: str | None = Field(description="Send it back as `cursor` for the next page; none: the last page")


class DocumentVersion(BaseModel):
    """One version of a document: an original, a correction, a cancellation."""

    model_config = ConfigDict(title="DocumentVersion")

    version: int = Field(ge=1, description="1 = the oldest, by report time")
    status: Literal["preliminary", "final", "corrected", "cancelled"] = Field(description="The laboratory's status")
    current: bool = Field(description="The version the document shows now")
    change: DocumentChange | None = Field(description="What it changed when it arrived: added, corrected, withdrawn; "
                                                      "none: an older version that joined the history")
    title: str = Field(description="Title of this version")
    collected_at: UtcDateTime | None = Field(description="Specimen collection time (none for an upload)")
    reported_at: UtcDateTime = Field(description="When the laboratory reported it (or the upload's time)")
    received_at: UtcDateTime | None = Field(description="When the DSP stored it")
    observations: list[Observation] = Field(description="Its results")
    has_file: bool = Field(description="This version has a file")


class DocumentFileInfo(BaseModel):
    model_config = ConfigDict(title="DocumentFileInfo")

    content_type: Literal["application/pdf", "image/jpeg", "image/png"] = Field(description="MIME type")
    size: int | None = Field(ge=0, description="Bytes (none if the file is missing)")


class DocumentDetail(DocumentSummary):
    """One document: the current results, every version, the file."""

    model_config = ConfigDict(title="DocumentDetail")

    laboratory_id: str | None = Field(description="The laboratory (none for an upload)")
    prescriber_id: str | None = Field(description="The prescribing professional, if the laboratory named one")
    observations: list[Observation] = Field(description="The current version's results: LOINC code, name, value and "
                                                        "unit or text, reference range, interpretation flag")
    versions: list[DocumentVersion] = Field(description="Every version, oldest first (corrections visible)")
    file: DocumentFileInfo | None = Field(description="The current version's file, if any")


class DocumentFile(BaseModel):
    model_config = ConfigDict(title="DocumentFile")

    document_id: str = Field(description="The document")
    version: int = Field(ge=1, description="The version the file belongs to")
    content_type: Literal["application/pdf", "image/jpeg", "image/png"] = Field(description="MIME type")
    size: int = Field(ge=0, description="Bytes")
    data_base64: str = Field(description="The file, base64 (standard alphabet)")


class DocumentDetails(BaseModel):
    """The answer to `POST /v1/documents/details`."""

    model_config = ConfigDict(title="DocumentDetails")

    items: list[DocumentDetail] = Field(description="The documents' details, in the order asked (or listed)")
    files: list[DocumentFile] = Field(description="With `files`: every file of these documents' versions, by "
                                                  "document then version (a file missing from the store is left out)")
    missing: list[str] = Field(description="Named ids this viewer may not see in this DSP (unknown, another "
                                           "patient's, or blocked for a professional), in the order asked")
    next_cursor: str | None = Field(description="Without `document_ids`: send it back as `cursor` for the next "
                                                "page; none: the last page")


class DocumentOwner(BaseModel):
    """The answer to `POST /v1/documents/owner` (a 404: no such document)."""

    model_config = ConfigDict(title="DocumentOwner")

    patient: Matricule = Field(description="The matricule of the DSP the document is in")


class CommandStatus(BaseModel):
    """pending: records has not applied the command (yet); applied; or rejected, with the reason."""

    model_config = ConfigDict(title="CommandStatus")

    command_id: str = Field(description="The command's id")
    status: Literal["pending", "applied", "rejected"] = Field(description="Where the command stands")
    command: Literal["upload-document", "block-document", "unblock-document"] | None = Field(
        description="The command (none while pending)")
    document_id: str | None = Field(description="The document it concerns (none while pending)")
    reason: str | None = Field(description="Why it was rejected")
    at: UtcDateTime | None = Field(description="When records applied or rejected it")


class DocumentTitles(BaseModel):
    model_config = ConfigDict(title="DocumentTitles")

    titles: dict[str, str] = Field(description="document id -> title, for the ids found in this DSP (blocked "
                                               "ones included: the patient's own trail names them)")


class RecordsStats(BaseModel):
    model_config = ConfigDict(title="RecordsStats")

    lab_results_stored: int = Field(ge=0, description="Lab-result documents in every DSP")
    patient_uploads: int = Field(ge=0, description="Documents patients uploaded")
    parked_results: int = Field(ge=0, description="Lab results waiting for the registry to announce their patient")


class AnalyteResult(BaseModel):
    """One result of an analyte: the current version of an active lab result that has it."""

    model_config = ConfigDict(title="AnalyteResult")

    document_id: str = Field(description="The lab result it is in")
    title: str = Field(description="The lab result's title")
    document_date: UtcDateTime = Field(description="When the sample was collected")
    laboratory_name: str | None = Field(description="The laboratory, as the directory names it")
    observation: Observation = Field(description="The result: value and unit or text, reference range, flag")


class AnalyteHistory(BaseModel):
    model_config = ConfigDict(title="AnalyteHistory")

    loinc: str = Field(description="The analyte's LOINC code")
    display: str | None = Field(description="Its name in the latest result (none: no result)")
    results: list[AnalyteResult] = Field(description="Every result, oldest first (by collection date)")


class AnalyteHistories(BaseModel):
    model_config = ConfigDict(title="AnalyteHistories")

    histories: list[AnalyteHistory] = Field(description="One per LOINC code asked, in the order asked")
