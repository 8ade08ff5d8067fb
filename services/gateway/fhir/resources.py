"""The DSP as FHIR R4 resources (pure: the answers of records' read API in, JSON resources out).

What a professional's software reads (IHE MHD document consumer and query, read-only) and what a patient takes
with her: `Patient`, `DocumentReference` (+ `Binary`, the file), `DiagnosticReport` and its `Observation`s (the lab
values, units, reference ranges, interpretation), every version of a report (`_history`: a correction supersedes,
the history is kept), search results as `searchset` Bundles, errors as `OperationOutcome`. Each resource is checked
by HAPI FHIR's validator in the tests (`tests/integration/test_fhir_resources.py`: zero errors).

Ids: a document's FHIR id is its DSP id (a UUID); a report's observations are `<document>-<n>` (current version) and
a version's file `<document>-v<version>`; the patient's id is opaque (`PatientIds`, in `ids.py`): a matricule never
appears in a URL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape
from typing import Any

from schemas.fields import matricule_birth_date
from schemas.lab_result import Observation
from schemas.records_api import DocumentDetail, DocumentFile, DocumentSummary, DocumentVersion

MATRICULE_SYSTEM = "urn:dsp-mesh:fhir:sid:matricule"  # the same system laboratories' FHIR bundles use
LABORATORY_SYSTEM = "urn:dsp-mesh:fhir:sid:laboratory"
PROFESSIONAL_SYSTEM = "urn:dsp-mesh:fhir:sid:professional"
LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"  # diagnostic service section: LAB
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
# document types (DocumentReference.type, LOINC): a laboratory report, a document the patient deposited
TYPES = {"lab-result": ("11502-2", "Laboratory report"), "patient-upload": ("51855-5", "Patient Note")}
INTERPRETATIONS = {"N": "Normal", "L": "Low", "H": "High", "LL": "Critical low", "HH": "Critical high",
                   "A": "Abnormal"}
REPORT_STATUS = OBSERVATION_STATUS = {"preliminary": "preliminary", "final": "final", "corrected": "corrected",
                                      "cancelled": "cancelled"}  # the laboratory's status, the same words in FHIR

Json = dict[str, Any]


def instant(at: datetime) -> str:
    """A FHIR instant: UTC with a zone, milliseconds."""
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def narrative(text: str) -> Json:
    """A resource's human-readable summary (FHIR's `text`, generated from its data; dom-6 asks for one)."""
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{escape(text)}</div>'}


def patient(pid: str, matricule: str, names: Iterable[tuple[str, str]] = ()) -> Json:
    """The patient: her matricule as an identifier (in the body, never in a URL), her birth date (the matricule's)."""
    out: Json = {"resourceType": "Patient", "id": pid,
                 "identifier": [{"use": "official", "system": MATRICULE_SYSTEM, "value": matricule}],
                 "birthDate": matricule_birth_date(matricule).isoformat()}
    out["text"] = narrative(f"Patient born {out['birthDate']}")
    given_family = [{"family": family, "given": [given]} for given, family in names]
    if given_family:
        out["name"] = given_family
    return out


def _type(document_type: str) -> Json:
    code, display = TYPES[document_type]
    return {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display}


def _author(doc: DocumentSummary) -> list[Json]:
    if doc.document_type == "patient-upload":
        return []  # the patient deposited it: DocumentReference.subject says who
    reference: Json = {"identifier": {"system": LABORATORY_SYSTEM, "value": doc.author}}
    reference["display"] = doc.laboratory_name or doc.author
    return [reference]


def document_reference(doc: DocumentSummary | DocumentDetail, pid: str, versioned: bool = False) -> Json:
    """A document's metadata (MHD): current or withdrawn, its type, author, dates, and where its file is.
    `versioned`: its report cited at its current version (where the report's every version sits beside it)."""
    out: Json = {
        "resourceType": "DocumentReference", "id": doc.id,
        "meta": {"versionId": str(doc.version_count), "lastUpdated": instant(doc.reported_at)},
        "text": narrative(f"{doc.title} ({doc.laboratory_name or doc.author}, {instant(doc.document_date)[:10]})"),
        "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{doc.id}"},
        "status": "entered-in-error" if doc.status == "withdrawn" else "current",
        "docStatus": "amended" if doc.version_count > 1 else "final",
        "type": _type(doc.document_type),
        "category": [{"coding": [{"system": LOINC, "code": "26436-6", "display": "Laboratory studies (set)"}]}]
        if doc.document_type == "lab-result" else [],
        "subject": {"reference": f"Patient/{pid}"},
        "date": instant(doc.reported_at),
        "author": _author(doc),
        "description": doc.title,
        "content": [{"attachment": _attachment(doc)}],
        "context": {"period": {"start": instant(doc.document_date)}},
    }
    if doc.document_type == "lab-result":
        report = f"DiagnosticReport/{doc.id}" + (f"/_history/{doc.version_count}" if versioned else "")
        out["context"]["related"] = [{"reference": report}]
    return {k: v for k, v in out.items() if v != []}


def _attachment(doc: DocumentSummary | DocumentDetail) -> Json:
    """Where the document's content is: its file (`Binary`), or — a lab result without a file — its report."""
    if doc.has_file:
        found: Json = {"url": f"Binary/{doc.id}-v{doc.version_count}", "title": doc.title}
        if isinstance(doc, DocumentDetail) and doc.file is not None:
            found["contentType"] = doc.file.content_type
            if doc.file.size is not None:
                found["size"] = doc.file.size
        return found
    return {"contentType": "application/fhir+json", "url": f"DiagnosticReport/{doc.id}", "title": doc.title}


def observation(doc: DocumentDetail, version: DocumentVersion, n: int, obs: Observation, pid: str,
                current: bool) -> Json:
    """One lab value: LOINC code, value with its UCUM unit (or text), reference range, interpretation."""
    out: Json = {
        "resourceType": "Observation", "id": observation_id(doc.id, version.version, n, current),
        "status": OBSERVATION_STATUS[version.status],
        "text": narrative(f"{obs.display}: " + (f"{obs.value:g} {obs.unit}" if obs.value is not None
                                                 else obs.value_text or "")),
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory", "display": "Laboratory"}]}],
        "code": {"coding": [{"system": LOINC, "code": obs.loinc, "display": obs.display}], "text": obs.display},
        "subject": {"reference": f"Patient/{pid}"},
        "issued": instant(version.reported_at),
        "performer": _author(doc),
    }
    if version.collected_at is not None:
        out["effectiveDateTime"] = instant(version.collected_at)
    if obs.value is not None and obs.unit is not None:
        out["valueQuantity"] = _quantity(obs.value, obs.unit)
    elif obs.value_text is not None:
        out["valueString"] = obs.value_text
    if obs.interpretation is not None:
        code = obs.interpretation.value
        out["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": code,
                                              "display": INTERPRETATIONS[code]}]}]
    if obs.reference_low is not None or obs.reference_high is not None:
        bounds: Json = {}
        if obs.reference_low is not None:
            bounds["low"] = _quantity(obs.reference_low, obs.unit)
        if obs.reference_high is not None:
            bounds["high"] = _quantity(obs.reference_high, obs.unit)
        out["referenceRange"] = [bounds]
    return {k: v for k, v in out.items() if v != []}


def observation_id(document: str, version: int, n: int, current: bool = True) -> str:
    """`<document>-<n>` for the current version's values; `<document>-v<version>-<n>` for an earlier version's."""
    return f"{document}-{n}" if current else f"{document}-v{version}-{n}"


def _quantity(value: float, unit: str | None) -> Json:
    out: Json = {"value": value}
    if unit:
        out |= {"unit": unit, "system": UCUM, "code": unit}
    return out


def diagnostic_report(doc: DocumentDetail, version: DocumentVersion, pid: str) -> Json:
    """A lab report as one version shows it (`meta.versionId` is the version; the current one by default)."""
    current = version.current
    out: Json = {
        "resourceType": "DiagnosticReport", "id": doc.id,
        "meta": {"versionId": str(version.version), "lastUpdated": instant(version.received_at or version.reported_at)},
        "text": narrative(f"{version.title}: " + "; ".join(
            f"{o.display} {o.value:g} {o.unit}" if o.value is not None else f"{o.display} {o.value_text}"
            for o in version.observations)),
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{doc.id}"}],
        "status": REPORT_STATUS[version.status],
        "category": [{"coding": [{"system": V2_0074, "code": "LAB", "display": "Laboratory"}]}],
        "code": {"coding": [{"system": LOINC, "code": "11502-2", "display": "Laboratory report"}],
                 "text": version.title},
        "subject": {"reference": f"Patient/{pid}"},
        "issued": instant(version.reported_at),
        "performer": _author(doc),
        "result": [{"reference": f"Observation/{observation_id(doc.id, version.version, n, current)}",
                    "display": obs.display} for n, obs in enumerate(version.observations, start=1)],
    }
    if version.collected_at is not None:
        out["effectiveDateTime"] = instant(version.collected_at)
    if version.has_file:
        out["presentedForm"] = [{"url": f"Binary/{doc.id}-v{version.version}", "title": version.title}
                                | ({"contentType": doc.file.content_type} if doc.file and current else {})]
    return {k: v for k, v in out.items() if v != []}


def report_observations(doc: DocumentDetail, version: DocumentVersion, pid: str) -> list[Json]:
    return [observation(doc, version, n, obs, pid, version.current)
            for n, obs in enumerate(version.observations, start=1)]


def current_version(doc: DocumentDetail) -> DocumentVersion:
    return next(v for v in doc.versions if v.current)


def binary(file: DocumentFile) -> Json:
    return {"resourceType": "Binary", "id": f"{file.document_id}-v{file.version}", "contentType": file.content_type,
            "data": file.data_base64}


def history(doc: DocumentDetail, pid: str, base: str) -> Json:
    """Every version of a report, newest first (a `history` Bundle): the first was created, each later one updated
    it — a correction supersedes, a cancellation withdraws, and the history is kept."""
    entries = []
    for version in sorted(doc.versions, key=lambda v: v.version, reverse=True):
        resource = diagnostic_report(doc, version, pid)
        first = version.version == 1
        entries.append({
            "fullUrl": f"{base}/DiagnosticReport/{doc.id}",
            "resource": resource,
            "request": {"method": "POST" if first else "PUT",
                        "url": "DiagnosticReport" if first else f"DiagnosticReport/{doc.id}"},
            "response": {"status": "201 Created" if first else "200 OK",
                         "lastModified": resource["meta"]["lastUpdated"]}})
    return {"resourceType": "Bundle", "type": "history", "total": len(entries), "entry": entries}


def searchset(resources: Sequence[Json], total: int, base: str, self_url: str, next_url: str | None,
              included: Sequence[Json] = ()) -> Json:
    """A page of search results: `total` counts every match the caller may see (computed after access's filtering,
    never before), `next` links to the following page."""
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    entries = [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
               for r in resources]
    entries += [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "include"}}
                for r in included]
    return {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links, "entry": entries}


def operation_outcome(code: str, diagnostics: str, severity: str = "error") -> Json:
    """An error as FHIR says it (`code` from the issue-type value set: invalid, not-found, forbidden, login,
    throttled, transient, not-supported...)."""
    return {"resourceType": "OperationOutcome", "text": narrative(diagnostics),
            "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}]}
