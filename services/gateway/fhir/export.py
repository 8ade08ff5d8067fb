"""A patient's whole DSP as FHIR R4 (pure): what she takes with her (the European Health Data Space's right to
portability) — one `collection` Bundle of everything, and a patient summary (an IPS-shaped `document` Bundle).

The collection holds: `Patient`; each document's `DocumentReference` and its `Binary` (the file); each lab report's
`DiagnosticReport` and `Observation`s for **every version** (the corrected and the superseded, told apart by
`meta.versionId`); a `Provenance` per version (which laboratory produced it, when the DSP received it); `Consent`s
as she set them (organ donation, emergency access, her trusted circle and the professionals she blocked); and her
Traçabilité as `AuditEvent`s (who read or changed what, when, allowed or not, and why)."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pydantic_core

from schemas.access import AccessStateV1, AuditEntryV1, ProfessionalRef
from schemas.records_api import DocumentDetail, DocumentFile

from . import resources as fhir
from .resources import Json, instant, narrative

AGENCY = {"resourceType": "Organization", "id": "agence-esante", "name": "Agence eSanté",
          "text": narrative("Agence eSanté, the agency that runs the DSP")}
POLICY = "https://www.esante.lu/dsp/regles-d-acces"  # the DSP's access rules, under which she set each choice
V3_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
DICOM = "http://dicom.nema.org/resources/ontology/DCM"
RESTFUL = "http://hl7.org/fhir/restful-interaction"
PROVENANCE_AGENT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"


def _entry(base: str, resource: Json) -> Json:
    return {"fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}", "resource": resource}


def _professional(ref: ProfessionalRef) -> Json:
    return {"identifier": {"system": fhir.PROFESSIONAL_SYSTEM, "value": ref.professional_id},
            "display": ref.name or ref.professional_id}


def report_resources(doc: DocumentDetail, pid: str) -> list[Json]:
    """Every version of a lab report: its DiagnosticReport, Observations and Provenance (oldest first)."""
    out: list[Json] = []
    for version in doc.versions:
        out.append(fhir.diagnostic_report(doc, version, pid))
        out += fhir.report_observations(doc, version, pid)
        if doc.document_type == "lab-result":
            out.append(provenance(doc, version.version, version.received_at or version.reported_at))
    return out


def provenance(doc: DocumentDetail, version: int, recorded: datetime) -> Json:
    """Which laboratory produced a report's version (its signature was verified by records when it arrived)."""
    return {"resourceType": "Provenance", "id": f"{doc.id}-v{version}-provenance",
            "text": narrative(f"Version {version} of {doc.title}, from {doc.laboratory_name or doc.author}"),
            "target": [{"reference": f"DiagnosticReport/{doc.id}/_history/{version}"}],
            "recorded": instant(recorded),
            "agent": [{"type": {"coding": [{"system": PROVENANCE_AGENT, "code": "author", "display": "Author"}]},
                       "who": {"identifier": {"system": fhir.LABORATORY_SYSTEM, "value": doc.author},
                               "display": doc.laboratory_name or doc.author}}]}


def consents(state: AccessStateV1, pid: str, now: datetime) -> list[Json]:
    """Her choices: organ donation (the latest she recorded), emergency access, the trusted circle and blocks."""
    out: list[Json] = []
    latest: dict[str, Any] = {}
    for consent in state.consents:  # oldest first: the last one of each kind stands
        latest[consent.consent] = consent
    for kind, consent in sorted(latest.items()):
        out.append(_consent(f"consent-{kind}", pid, consent.at, "treatment", "permit" if consent.value else "deny",
                            f"{kind}: {'yes' if consent.value else 'no'}"))
    emergency = _consent("consent-emergency-access", pid, now, "patient-privacy",
                         "deny" if state.emergency_refused else "permit",
                         f"emergency access (break the glass): {'refused' if state.emergency_refused else 'allowed'}")
    emergency["provision"]["purpose"] = [{"system": V3_ACT_REASON, "code": "ETREAT",
                                          "display": "Emergency Treatment"}]
    out.append(emergency)
    circle = [g for g in state.grants if g.kind == "trusted-circle"]
    if circle:
        permit = _consent("consent-trusted-circle", pid, now, "patient-privacy", "permit",
                          "trusted medical circle: " + ", ".join(g.name or g.professional_id for g in circle))
        permit["provision"]["provision"] = [
            {"type": "permit", "actor": [{"role": _grantee(), "reference": _professional(g)}],
             **({"period": {"start": instant(g.granted_at),
                            **({"end": instant(g.ends_at)} if g.ends_at else {})}})} for g in circle]
        out.append(permit)
    if state.blocked_professionals:
        deny = _consent("consent-blocked-professionals", pid, now, "patient-privacy", "deny",
                        "blocked: " + ", ".join(p.name or p.professional_id for p in state.blocked_professionals))
        deny["provision"]["actor"] = [{"role": _grantee(), "reference": _professional(p)}
                                      for p in state.blocked_professionals]
        out.append(deny)
    return out


def _grantee() -> Json:
    return {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP",
                        "display": "information recipient"}]}


def _consent(cid: str, pid: str, at: datetime, scope: str, provision: str, text: str) -> Json:
    return {"resourceType": "Consent", "id": cid, "text": narrative(text), "status": "active",
            "scope": {"coding": [{"system": CONSENT_SCOPE, "code": scope}]},
            "category": [{"coding": [{"system": fhir.LOINC, "code": "59284-0", "display": "Consent Document"}],
                          "text": text}],
            "patient": {"reference": f"Patient/{pid}"}, "dateTime": instant(at),
            "policy": [{"authority": "https://www.esante.lu", "uri": POLICY}],
            "provision": {"type": provision}}


def audit_events(trail: Sequence[AuditEntryV1], pid: str) -> list[Json]:
    """Her Traçabilité, oldest first: who read or changed what, when, allowed or not, and on which rule."""
    out = []
    for n, entry in enumerate(trail):
        who: Json = {"display": entry.who.name or entry.who.id}
        if entry.who.kind == "professional":
            who["identifier"] = {"system": fhir.PROFESSIONAL_SYSTEM, "value": entry.who.id}
        event: Json = {
            "resourceType": "AuditEvent", "id": f"audit-{n}",
            "text": narrative(f"{instant(entry.at)} {entry.who.name or entry.who.kind}: {entry.action} "
                              f"({'allowed' if entry.allowed else 'refused'}: {entry.reason})"),
            "type": {"system": DICOM, "code": "110110", "display": "Patient Record"},
            "action": "R" if entry.action == "read" else "E",
            "recorded": instant(entry.at),
            "outcome": "0" if entry.allowed else "4",
            "outcomeDesc": entry.reason,
            "agent": [{"who": who, "requestor": True}],
            "source": {"observer": {"display": "dsp-mesh access"}},
            "entity": [{"what": {"reference": f"Patient/{pid}"}, "description": entry.action}]}
        if entry.action == "read":
            event["subtype"] = [{"system": RESTFUL, "code": "read", "display": "read"}]
        if entry.document_id:
            event["entity"].append({"what": {"reference": f"DocumentReference/{entry.document_id}"}})
        if entry.justification:
            event["purposeOfEvent"] = [{"coding": [{"system": V3_ACT_REASON, "code": "ETREAT"}],
                                        "text": entry.justification}]
        out.append(event)
    return out


def everything(pid: str, matricule: str, names: Sequence[tuple[str, str]], documents: Sequence[DocumentDetail],
               files: Sequence[DocumentFile], state: AccessStateV1, trail: Sequence[AuditEntryV1], base: str,
               now: datetime, export_id: str) -> Json:
    """One `collection` Bundle of the whole DSP."""
    resources: list[Json] = [fhir.patient(pid, matricule, names)]
    for doc in documents:
        resources.append(fhir.document_reference(doc, pid, versioned=True))
        if doc.document_type == "lab-result":
            resources += report_resources(doc, pid)
    resources += [fhir.binary(f) for f in files]
    resources += consents(state, pid, now) + audit_events(trail, pid)
    return {"resourceType": "Bundle", "id": export_id, "meta": {"lastUpdated": instant(now)},
            "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{export_id}"},
            "type": "collection", "timestamp": instant(now), "entry": [_entry(base, r) for r in resources]}


def download(pid: str, matricule: str, names: Sequence[tuple[str, str]], documents: Sequence[DocumentDetail],
             files: Sequence[DocumentFile], state: AccessStateV1, trail: Sequence[AuditEntryV1], base: str,
             now: datetime, export_id: str, summary_id: str) -> bytes:
    """What she downloads: the `collection` Bundle (`everything`), its first entry her summary (`summary`), as
    JSON bytes."""
    with _no_collection():
        bundle = everything(pid, matricule, names, documents, files, state, trail, base, now, export_id)
        bundle["entry"].insert(0, {"fullUrl": f"{base}/Bundle/{summary_id}",
                                   "resource": summary(pid, matricule, names, documents, state, base, now, summary_id)})
        return pydantic_core.to_json(bundle)


@contextmanager
def _no_collection() -> Iterator[None]:
    """No cyclic garbage collection while a Bundle (tens of thousands of small dicts, no cycles) is built and
    written: the collector would walk the growing heap again and again (60% of the build's time for 1,000
    documents). Nothing awaits inside, so no other request runs meanwhile; the collector is on again after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def summary(pid: str, matricule: str, names: Sequence[tuple[str, str]], documents: Sequence[DocumentDetail],
            state: AccessStateV1, base: str, now: datetime, summary_id: str) -> Json:
    """A patient summary (IPS-shaped `document` Bundle): a Composition first, then what its sections cite — the
    latest results (each lab report's current version and values), her consents and advance choices."""
    results: list[Json] = []
    for doc in documents:
        if doc.document_type == "lab-result" and doc.status == "active":
            version = fhir.current_version(doc)
            results.append(fhir.diagnostic_report(doc, version, pid))
            results += fhir.report_observations(doc, version, pid)
    choices = consents(state, pid, now)
    reports = [r for r in results if r["resourceType"] == "DiagnosticReport"]
    composition: Json = {
        "resourceType": "Composition", "id": f"{summary_id}-composition",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{summary_id}"},
        "status": "final",
        "type": {"coding": [{"system": fhir.LOINC, "code": "60591-5", "display": "Patient summary Document"}]},
        "subject": {"reference": f"Patient/{pid}"}, "date": instant(now),
        "author": [{"reference": "Organization/agence-esante"}], "title": "Patient summary (DSP)",
        "text": narrative("Patient summary from the DSP: results, consents"),
        "section": [
            _section("Results", "30954-2", "Relevant diagnostic tests/laboratory data",
                     "; ".join(r["code"]["text"] for r in reports) or "No results in the DSP", reports),
            _section("Advance directives", "42348-3", "Advance directives",
                     "; ".join(c["category"][0]["text"] for c in choices), choices)]}
    resources = [composition, fhir.patient(pid, matricule, names), AGENCY, *results, *choices]
    return {"resourceType": "Bundle", "id": summary_id,
            "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{summary_id}"},
            "type": "document", "timestamp": instant(now), "entry": [_entry(base, r) for r in resources]}


def _section(title: str, code: str, display: str, text: str, cited: Sequence[Json]) -> Json:
    section: Json = {"title": title, "code": {"coding": [{"system": fhir.LOINC, "code": code, "display": display}]},
                     "text": narrative(text)}
    if cited:
        section["entry"] = [{"reference": f"{r['resourceType']}/{r['id']}"} for r in cited]
    else:
        section["emptyReason"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/list-empty-reason",
                                              "code": "nilknown", "display": "Nil Known"}]}
    return section
