"""What records' read API answers, built from stored documents. Pure: no I/O.

A lab result keeps every version (`versions`, oldest first by report time, the current one last); version n is
the n-th of them, as in the events (`DocumentAddedV1.version`). An upload has one version, its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from schemas.lab_result import Observation
from schemas.records_api import (
    AnalyteHistory,
    AnalyteResult,
    DocumentDetail,
    DocumentFileInfo,
    DocumentSummary,
    DocumentVersion,
)

from .documents import Attachment, Document, Version

Names = Callable[[str], str | None]  # laboratory id -> its name (`laboratories.Laboratories.name`)


def _no_names(_: str) -> str | None:
    return None


def summary(doc: Mapping[str, Any], names: Names = _no_names) -> DocumentSummary:
    """A stored document's summary, or a list entry's (`listing.entry`); a lab result's laboratory named."""
    lab = doc["author"] if doc["document_type"] == "lab-result" else None
    return DocumentSummary(
        id=doc["_id"], document_type=doc["document_type"], title=doc["title"], author=doc["author"],
        laboratory_name=names(lab) if lab else None,
        document_date=doc["document_date"], reported_at=doc["reported_at"], status=doc["status"],
        blocked=bool(doc.get("blocked")), version_count=doc.get("version_count", 1),
        has_file=bool(doc["has_file"] if "has_file" in doc else (doc.get("current") or {}).get("attachment")))


def stored_versions(doc: Document) -> list[Version]:
    """The stored versions, oldest first; an upload's only version is made from the document itself."""
    if doc.get("versions"):
        return list(doc["versions"])
    current = doc.get("current") or {}
    return [{"status": "final", "change": "added", "title": doc["title"],
             "reported_at": doc["reported_at"], "received_at": doc["reported_at"], "observations": [],
             "attachment": current.get("attachment")}]


def attachment(doc: Document, version: int | None) -> tuple[int, Attachment] | None:
    """(version number, its stored attachment) of `version` (None: the current one), or None."""
    versions = stored_versions(doc)
    number = len(versions) if version is None else version
    if not 1 <= number <= len(versions):
        return None
    found = versions[number - 1].get("attachment")
    return (number, found) if found else None


def _observations(version: Version) -> list[Observation]:
    return [Observation.model_validate(o) for o in version.get("observations") or []]


def versions(doc: Document) -> list[DocumentVersion]:
    found = stored_versions(doc)
    return [DocumentVersion(
        version=n, status=v["status"], current=n == len(found), change=v.get("change"), title=v["title"],
        collected_at=v.get("collected_at"), reported_at=v["reported_at"], received_at=v.get("received_at"),
        observations=_observations(v), has_file=bool(v.get("attachment"))) for n, v in enumerate(found, 1)]


def detail(doc: Document, file: DocumentFileInfo | None, names: Names = _no_names) -> DocumentDetail:
    current = doc.get("current") or {}
    return DocumentDetail(
        **summary(doc, names).model_dump(), laboratory_id=doc.get("laboratory_id"),
        prescriber_id=current.get("prescriber_id"), observations=_observations(current), versions=versions(doc),
        file=file)


def analytes(loincs: list[str], docs: list[Document], names: Names = _no_names) -> list[AnalyteHistory]:
    """Each analyte's results in these lab results' current versions, oldest first (by collection date, then id)."""
    ordered = sorted(docs, key=lambda d: (d["document_date"], d["_id"]))
    histories = []
    for loinc in loincs:
        results = [AnalyteResult(document_id=d["_id"], title=d["title"], document_date=d["document_date"],
                                 laboratory_name=names(d["author"]), observation=o)
                   for d in ordered for o in _observations(d.get("current") or {}) if o.loinc == loinc]
        histories.append(AnalyteHistory(loinc=loinc, display=results[-1].observation.display if results else None,
                                        results=results))
    return histories
