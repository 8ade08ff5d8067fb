"""What `GET /v1/me/export` answers (`fhir.export.download`): her summary first, then the `collection` Bundle of
everything, as JSON bytes — built with the cyclic collector paused, and the collector as it was after."""

from __future__ import annotations

import base64
import gc
import json

from bench.fhir.door import IDS, MATRICULE, T0, detail
from schemas.access import AccessStateV1
from schemas.records_api import DocumentFile
from services.gateway.fhir import export

STATE = AccessStateV1.model_validate({
    "patient": MATRICULE, "version": 1, "referring_gp": None, "blocked_documents": [], "assistants": [],
    "emergency_refused": True, "presence_password": False, "blocked_professionals": [], "consents": [], "grants": []})


def test_the_download_is_her_summary_then_everything_and_leaves_the_collector_as_it_was() -> None:
    docs = [detail(n) for n in range(12)]
    files = [DocumentFile(document_id=d.id, version=v.version, content_type="application/pdf", size=9,
                          data_base64=base64.b64encode(b"%PDF-1.7 ").decode()) for d in docs for v in d.versions
             if v.has_file]
    pid, base, names = IDS.of(MATRICULE), "https://dsp.example.lu/fhir/r4", [("Marie", "Weber")]
    expected = export.everything(pid, MATRICULE, names, docs, files, STATE, [], base, T0, "e1")
    expected["entry"].insert(0, {"fullUrl": f"{base}/Bundle/s1", "resource": export.summary(
        pid, MATRICULE, names, docs, STATE, base, T0, "s1")})
    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        try:
            body = export.download(pid, MATRICULE, names, docs, files, STATE, [], base, T0, "e1", "s1")
            assert gc.isenabled() is enabled
        finally:
            gc.enable()
        assert json.loads(body) == expected and body.startswith(b'{"resourceType":"Bundle"')
    bundle = json.loads(body)
    assert [e["resource"]["resourceType"] for e in bundle["entry"][:2]] == ["Bundle", "Patient"]
    assert sum(e["resource"]["resourceType"] == "Binary" for e in bundle["entry"]) == len(files) > 0
