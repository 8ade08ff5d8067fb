"""FHIR R4 lab reports (`lab.results.fhir.v1`) mapped to the lab-result contract v1. Pure: no I/O.

Parsed with fhir.resources' R4B models (R4B is R4's technical correction; Bundle, DiagnosticReport,
Observation, Patient and Organization are unchanged for what is read here). The profile expected:

- Bundle.identifier.value                    -> message_id (the laboratory's unique message id)
- one DiagnosticReport: identifier[0].value  -> report_id; status -> status; effectiveDateTime ->
  collected_at; issued -> reported_at; code.text (or coding[0].display) -> title;
  performer -> an Organization whose identifier (system LABORATORY_SYSTEM) -> laboratory_id;
  presentedForm[0] (contentType, data) -> attachment; result[] -> the Observations
- one Patient whose identifier with system MATRICULE_SYSTEM -> patient_matricule
- each Observation: a LOINC coding -> loinc + display; valueQuantity (value, UCUM code) or
  valueString / valueCodeableConcept.text; referenceRange[0]; interpretation[0].coding[0].code
"""

from __future__ import annotations

import base64
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from schemas.lab_result import LabResultV1

from .documents import Rejected

MATRICULE_SYSTEM = "urn:dsp-mesh:fhir:sid:matricule"
LABORATORY_SYSTEM = "urn:dsp-mesh:fhir:sid:laboratory"
LOINC_SYSTEM = "http://loinc.org"
STATUS = {"registered": "preliminary", "partial": "preliminary", "preliminary": "preliminary", "final": "final",
          "amended": "corrected", "corrected": "corrected", "appended": "corrected", "cancelled": "cancelled",
          "entered-in-error": "cancelled"}


def to_lab_result(raw: bytes) -> LabResultV1:
    """Parse a FHIR R4 Bundle and map it; raises pydantic's ValidationError or Rejected with a reason."""
    bundle = Bundle.model_validate_json(raw)
    resources = {(e.fullUrl or ""): e.resource for e in bundle.entry or [] if e.resource is not None}
    by_type: dict[str, list[Any]] = {}
    for url, res in resources.items():
        by_type.setdefault(res.get_resource_type(), []).append((url, res))
    report = _one(by_type, "DiagnosticReport")
    patient = _one(by_type, "Patient")
    if bundle.identifier is None or not bundle.identifier.value:
        raise Rejected("Bundle.identifier.value (the message id) is missing")
    lab = _laboratory(report, resources)
    observations = [_observation(_resolve(ref.reference, resources, "Observation")) for ref in report.result or []]
    attachment = None
    if report.presentedForm:
        form = report.presentedForm[0]
        data = form.data if isinstance(form.data, str) else base64.b64encode(form.data or b"").decode()
        attachment = {"content_type": form.contentType, "data_base64": data}
    return LabResultV1.model_validate({
        "message_id": bundle.identifier.value,
        "laboratory_id": lab,
        "report_id": report.identifier[0].value if report.identifier else None,
        "status": STATUS.get(report.status, report.status),
        "patient_matricule": next((i.value for i in patient.identifier or [] if i.system == MATRICULE_SYSTEM), None),
        "collected_at": report.effectiveDateTime,
        "reported_at": report.issued,
        "title": report.code.text or (report.code.coding[0].display if report.code.coding else None),
        "observations": observations,
        "attachment": attachment,
    })


def _one(by_type: dict[str, list[Any]], kind: str) -> Any:
    found = by_type.get(kind, [])
    if len(found) != 1:
        raise Rejected(f"the bundle must hold exactly one {kind} (found {len(found)})")
    return found[0][1]


def _resolve(reference: str | None, resources: dict[str, Any], kind: str) -> Any:
    for url, res in resources.items():
        if res.get_resource_type() == kind and reference in (url, f"{kind}/{res.id}"):
            return res
    raise Rejected(f"reference {reference!r} does not resolve to a {kind} in the bundle")


def _laboratory(report: Any, resources: dict[str, Any]) -> str:
    for ref in report.performer or []:
        org = _resolve(ref.reference, resources, "Organization")
        for ident in org.identifier or []:
            if ident.system == LABORATORY_SYSTEM and ident.value:
                return str(ident.value)
    raise Rejected(f"DiagnosticReport.performer has no Organization identified in {LABORATORY_SYSTEM}")


def _observation(obs: Any) -> dict[str, Any]:
    loinc = next((c for c in (obs.code.coding or []) if c.system == LOINC_SYSTEM), None)
    if loinc is None:
        raise Rejected(f"Observation {obs.id or ''} has no LOINC coding")
    out: dict[str, Any] = {"loinc": loinc.code, "display": loinc.display or obs.code.text}
    if obs.valueQuantity is not None:
        out |= {"value": float(obs.valueQuantity.value), "unit": obs.valueQuantity.code or obs.valueQuantity.unit}
    elif obs.valueString is not None:
        out["value_text"] = obs.valueString
    elif obs.valueCodeableConcept is not None:
        out["value_text"] = obs.valueCodeableConcept.text or obs.valueCodeableConcept.coding[0].display
    if obs.referenceRange:
        rng = obs.referenceRange[0]
        out |= {"reference_low": float(rng.low.value) if rng.low else None,
                "reference_high": float(rng.high.value) if rng.high else None}
    if obs.interpretation and obs.interpretation[0].coding:
        out["interpretation"] = obs.interpretation[0].coding[0].code
    return out
