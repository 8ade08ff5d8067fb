"""What the FHIR door serves, said in FHIR (pure): the `CapabilityStatement` at `/fhir/r4/metadata` and SMART's
discovery document at `/fhir/r4/.well-known/smart-configuration`. These are the door's reference (the door is
not in the portal API's OpenAPI document: FHIR software reads this)."""

from __future__ import annotations

from datetime import datetime

from .resources import Json, instant, narrative
from .smart import ALGORITHMS, RESOURCES

SMART_SECURITY = "http://terminology.hl7.org/CodeSystem/restful-security-service"
SEARCHES: dict[str, list[tuple[str, str, str]]] = {  # resource -> (name, type, what it matches)
    "Patient": [("identifier", "token", "urn:dsp-mesh:fhir:sid:matricule|<matricule> (POST _search keeps it out of "
                 "URLs)"), ("_id", "token", "the opaque Patient id")],
    "DocumentReference": [("patient", "reference", "the Patient (required)"),
                          ("date", "date", "when the document (its current version) was reported"),
                          ("type", "token", "LOINC 11502-2 laboratory report, 51855-5 the patient's own document"),
                          ("status", "token", "current, or entered-in-error (withdrawn by its laboratory)")],
    "DiagnosticReport": [("patient", "reference", "the Patient (required)"),
                         ("date", "date", "when the specimens were collected"),
                         ("status", "token", "preliminary, final, corrected, cancelled")],
    "Observation": [("patient", "reference", "the Patient (required)"),
                    ("code", "token", "LOINC, e.g. http://loinc.org|718-7"),
                    ("date", "date", "when the specimen was collected")],
}
READS = {"Patient": ["read", "search-type"], "DocumentReference": ["read", "search-type"],
         "DiagnosticReport": ["read", "vread", "history-instance", "search-type"],
         "Observation": ["search-type"], "Binary": ["read"]}


def capability_statement(base: str, published: datetime, software_version: str) -> Json:
    resources = []
    for name in RESOURCES:
        entry: Json = {"type": name, "interaction": [{"code": code} for code in READS[name]]}
        if name == "DiagnosticReport":
            entry["versioning"] = "versioned"
            entry["readHistory"] = True
        if name in SEARCHES:
            entry["searchParam"] = [{"name": n, "type": t, "documentation": d} for n, t, d in SEARCHES[name]]
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement", "id": "dsp-mesh",
        "text": narrative("The DSP's FHIR R4 API for professionals' software: read-only, every read decided and "
                          "audited by the patient's access rules"),
        "name": "DspMeshFhirApi", "title": "DSP FHIR R4 API (read-only)", "status": "active",
        "date": instant(published), "publisher": "Agence eSanté", "kind": "instance",
        "software": {"name": "dsp-mesh", "version": software_version},
        "implementation": {"description": "The shared health record (DSP): documents, lab reports and values",
                           "url": base},
        "fhirVersion": "4.0.1", "format": ["json"],
        "rest": [{
            "mode": "server",
            "documentation": "Every read is an access decision on the patient's rules (trusted circle, referring "
                             "GP, presence password, emergency access, blocks), audited in her Traçabilité. A "
                             "document she blocked is in no total, page or id. Searchsets are paged (`_count` "
                             "up to 100, `next` links).",
            "security": {
                "cors": False,
                "service": [{"coding": [{"system": SMART_SECURITY, "code": "SMART-on-FHIR"}]}],
                "description": f"Bearer tokens from {base}/auth/token: SMART Backend Services (client_credentials, "
                               f"a signed JWT assertion of a registered client, {', '.join(ALGORITHMS)}, naming "
                               "the professional it acts for in dsp_professional) or the professional identity "
                               "provider's assertion (grant_type jwt-bearer). Scopes user/<Type>.read. SMART's "
                               f"discovery document: {base}/.well-known/smart-configuration."},
            "resource": resources}]}


def smart_configuration(base: str) -> Json:
    return {"token_endpoint": f"{base}/auth/token",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": list(ALGORITHMS),
            "grant_types_supported": ["client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
            "scopes_supported": [f"user/{r}.read" for r in RESOURCES] + ["user/*.read"],
            "capabilities": ["client-confidential-asymmetric", "permission-user", "permission-v1", "permission-v2"]}
