"""The FHIR door's own cost, in this process (no Kafka, no database: what the gateway adds to the services' answers),
the first phase of `python -m bench.fhir`:

- export: a patient's whole DSP as FHIR (`fhir.export.everything` + the IPS summary + the JSON the API writes) —
  --documents lab reports (3 values each, one in ten corrected: two versions), a PDF of 20 KiB for one in five,
  three audit entries per document, a trusted circle;
- search: `DocumentReference?patient=` through the door's read path (`fhir.reads.Reader`: access's decision, records'
  list, filtering, paging, the resources, the Bundle) --searches times, with access and records answered by
  in-memory doubles over httpx's transport (`--per-patient` documents each, as in a DSP of 200,000 documents over
  20,000 patients) — the services' own latencies are measured by `make bench-access` and `make bench-search`.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench.common import rounded
from schemas.access import AccessStateV1, AuditEntryV1
from schemas.records_api import DocumentDetail, DocumentFile, DocumentSummary
from services.gateway.context import Context
from services.gateway.fhir import export
from services.gateway.fhir.ids import PatientIds
from services.gateway.fhir.params import Query
from services.gateway.fhir.reads import Reader
from services.gateway.fhir.smart import Grant

T0 = datetime(2026, 1, 1, 8, tzinfo=UTC)
MATRICULE = "1893120105732"
IDS = PatientIds(b"bench-key" * 4)


def _observations(n: int) -> list[dict[str, Any]]:
    return [{"loinc": "718-7", "display": "Hémoglobine", "value": 12.0 + n % 4, "unit": "g/dL",
             "reference_low": 12.0, "reference_high": 16.0, "interpretation": "N"},
            {"loinc": "1988-5", "display": "CRP", "value": 3.0 + n % 7, "unit": "mg/L", "reference_high": 5.0},
            {"loinc": "600-7", "display": "Hémoculture", "value_text": "Négative"}]


def detail(n: int) -> DocumentDetail:
    corrected, with_file = n % 10 == 0, n % 5 == 0
    at = T0 + timedelta(hours=n)
    versions = [{"version": 1, "status": "final", "current": not corrected, "change": "added",
                 "title": f"Bilan {n}", "collected_at": at, "reported_at": at, "received_at": at,
                 "observations": _observations(n), "has_file": with_file and not corrected}]
    if corrected:
        versions.append({**versions[0], "version": 2, "status": "corrected", "current": True, "change": "corrected",
                         "reported_at": at + timedelta(hours=1), "has_file": with_file})
    return DocumentDetail.model_validate({
        "id": str(uuid.UUID(int=n)), "document_type": "lab-result", "title": f"Bilan {n}", "author": "LAB-LNS",
        "laboratory_name": "Laboratoire national de santé", "document_date": at, "reported_at": at,
        "status": "active", "blocked": False, "version_count": len(versions), "has_file": with_file,
        "laboratory_id": "LAB-LNS", "prescriber_id": "PRO-1000", "observations": _observations(n),
        "versions": versions, "file": {"content_type": "application/pdf", "size": 20_480} if with_file else None})


def bench_export(count: int) -> dict[str, Any]:
    documents = [detail(n) for n in range(count)]
    pdf = base64.b64encode(b"%PDF-1.7 " + bytes(20_471)).decode()
    files = [DocumentFile(document_id=d.id, version=v.version, content_type="application/pdf", size=20_480,
                          data_base64=pdf) for d in documents for v in d.versions if v.has_file]
    state = AccessStateV1.model_validate({
        "patient": MATRICULE, "version": 3, "referring_gp": None, "blocked_documents": [], "assistants": [],
        "emergency_refused": False, "presence_password": True, "blocked_professionals": [], "consents": [],
        "grants": [{"professional_id": "PRO-1000", "name": "Dr Paul Hoffmann", "profession": "Médecin",
                    "specialty": None, "kind": "trusted-circle", "granted_at": T0, "ends_at": None}]})
    trail = [AuditEntryV1.model_validate({
        "at": T0 + timedelta(minutes=n), "who": {"kind": "professional", "id": "PRO-1000", "name": "Dr Paul Hoffmann"},
        "action": "read", "document_id": documents[n % count].id, "allowed": True, "reason": "trusted-circle"})
        for n in range(3 * count)]
    pid, base = IDS.of(MATRICULE), "https://dsp.example.lu/fhir/r4"
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        body = export.download(pid, MATRICULE, [("Marie", "Weber")], documents, files, state, trail, base, T0,
                               "e1", "s1")  # what GET /v1/me/export answers
        runs.append(time.perf_counter() - started)
    return {"documents": count, "resources": len(json.loads(body)["entry"]), "bytes": len(body),
            "seconds_best": round(min(runs), 3), "seconds_worst": round(max(runs), 3)}


def _services(per_patient: int) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
    items = [DocumentSummary.model_validate(detail(n).model_dump()).model_dump(mode="json")
             for n in range(per_patient)]

    def access(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"allowed": True, "reason": "trusted-circle", "grant": "trusted-circle",
                                         "audit_seq": 1})

    def records(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": items, "next_cursor": None})

    return (httpx.AsyncClient(base_url="http://access", transport=httpx.MockTransport(access)),
            httpx.AsyncClient(base_url="http://records", transport=httpx.MockTransport(records)))


async def bench_search(searches: int, per_patient: int) -> dict[str, Any]:
    access, records = _services(per_patient)
    c = Context(None, None, access, records, None, False)  # type: ignore[arg-type]
    reader = Reader(c, IDS, "https://dsp.example.lu/fhir/r4", Grant("PRO-1000", frozenset({"user/*.read"}), "bench"))
    query = Query.of([("patient", IDS.of(MATRICULE)), ("_count", "20")], ("patient", "date", "type", "status"))
    latencies = []
    started = time.perf_counter()
    for _ in range(searches):
        one = time.perf_counter()
        page = await reader.document_references(query)
        json.dumps(page).encode()
        latencies.append((time.perf_counter() - one) * 1000)
    rate = searches / (time.perf_counter() - started)
    await access.aclose()
    await records.aclose()
    return {"searches": searches, "documents_per_patient": per_patient, "per_second_one_core": round(rate),
            "ms": rounded(latencies)}
