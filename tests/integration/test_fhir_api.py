"""The FHIR R4 door (`/fhir/r4`) on the real mesh (Kafka, MongoDB, records, access, activation, notify and the gateway):
a practice's software gets a token with its signed SMART assertion, then reads a patient's DSP as her rules allow —
with HAPI FHIR's own generic client as a practice would (search, page, read, values, history, refused on the
document she blocked) — every resource and Bundle it answers valid for HAPI FHIR's validator (zero errors), every
read in her Traçabilité; a read by id needs no search first, and a professional she never let in gets the same 404
for her document as for an id that never existed (his attempt in her trail); and a token is refused for a wrong
signature, an expired or replayed assertion, or a professional the client may not act for."""

from __future__ import annotations

import base64
import json
import secrets
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric import ed25519
from jwt.algorithms import OKPAlgorithm

from infra.hapi import FhirValidator, client_check
from services.gateway.pro_assertion import sign
from tests import sample_files
from tests.integration import test_gateway
from tests.integration.access_support import fresh_matricule, list_professionals
from tests.integration.test_gateway import onboard
from tests.support import encode, eventually, lab_result

portal = test_gateway.portal  # the gateway's world (activation, access, notify, the gateway; the session's records)
KEY = ed25519.Ed25519PrivateKey.generate()
CLIENT, DR, STRANGER = "cabinet-weber", f"PRO-F{secrets.token_hex(3)}", f"PRO-X{secrets.token_hex(3)}"
OUTSIDER = f"PRO-O{secrets.token_hex(3)}"  # listed, but never let in by the patient
_REGISTRY = Path(tempfile.mkdtemp(prefix="fhir-clients-")) / "clients.json"
_REGISTRY.write_text(json.dumps([{
    "client_id": CLIENT, "jwks": {"keys": [{**json.loads(OKPAlgorithm.to_jwk(KEY.public_key())), "kid": "k1"}]},
    "professionals": [DR, STRANGER, OUTSIDER],
    "scopes": ["user/*.read", "user/DocumentReference.read", "user/Patient.read"]}]))
TOKEN_LIMIT = 40  # token requests a minute per client address
GATEWAY_ENV = {"DSP_GATEWAY_FHIR_CLIENTS_FILE": str(_REGISTRY), "DSP_GATEWAY_SESSION_RATE_LIMIT_PER_MINUTE": "1000",
               "DSP_GATEWAY_FHIR_TOKEN_RATE_LIMIT_PER_MINUTE": str(TOKEN_LIMIT)}
FHIR_JSON = "application/fhir+json"
PDF = sample_files.pdf()


def _hb(value: float) -> dict[str, Any]:
    return {"loinc": "718-7", "display": "Hémoglobine", "value": value, "unit": "g/dL", "reference_low": 12.0,
            "reference_high": 16.0, "interpretation": "N" if value >= 12 else "L"}


@pytest.fixture(scope="module")
def hapi() -> Iterator[FhirValidator]:
    with FhirValidator() as validator:
        yield validator


def assertion(url: str, key: Any = KEY, exp_in: int = 120, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": CLIENT, "sub": CLIENT, "aud": f"{url}/fhir/r4/auth/token", "exp": now + exp_in,
            "jti": secrets.token_hex(12), "dsp_professional": DR, **claims}
    return jwt.encode(body, key, algorithm="EdDSA", headers={"kid": "k1"})


async def ask_token(web: httpx.AsyncClient, signed: str, scope: str = "user/*.read",
                    address: str | None = None) -> httpx.Response:
    """`address`: the client's, as the reverse proxy in front (127.0.0.1, trusted) says it; none: the proxy's."""
    return await web.post("/fhir/r4/auth/token", data={
        "grant_type": "client_credentials", "scope": scope, "client_assertion": signed,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
        headers={"X-Forwarded-For": address} if address else None)


def outcome_of(reply: httpx.Response, status: int) -> str:
    """An error as FHIR says it: the status, an OperationOutcome in application/fhir+json; its diagnostics."""
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == FHIR_JSON
    body = reply.json()
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["severity"] == "error"
    return str(body["issue"][0]["diagnostics"])


def valid(hapi: FhirValidator, reply: httpx.Response) -> dict[str, Any]:
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == FHIR_JSON
    body: dict[str, Any] = reply.json()
    assert hapi.errors(body) == [], body.get("resourceType")
    return body


async def _listed(web: httpx.AsyncClient, url: str, professional: str = DR) -> str | None:
    reply = await ask_token(web, assertion(url, dsp_professional=professional))
    return str(reply.json()["access_token"]) if reply.status_code == 200 else None


async def test_a_practice_reads_a_dsp_as_the_patient_allows(portal: dict[str, Any], producer: AIOKafkaProducer,
                                                            unique: str, hapi: FhirValidator) -> None:
    url, lab = portal["url"], f"LAB-{unique}"
    patient = fresh_matricule(date(1979, 5, 2), int(unique[:4], 16))
    await list_professionals(producer, DR, OUTSIDER)
    me = await onboard(portal, producer, patient, f"fhir.{unique}")
    try:
        for report, hb, day in (("R1", 13.9, "18"), ("R2", 13.5, "19"), ("R3", 11.0, "20"), ("R4", 14.2, "17")):
            await producer.send_and_wait("lab.results.v1", encode(lab_result(
                lab, report, f"m-{report}", patient_matricule=patient, title=f"Bilan {report}",
                collected_at=f"2026-11-{day}T08:05:00+01:00", reported_at=f"2026-11-{day}T14:30:00+01:00",
                observations=[_hb(hb)])), key=f"{lab}:{report}".encode())
        await producer.send_and_wait("lab.results.v1", encode(lab_result(  # R2 corrected, reported last, a PDF
            lab, "R2", "m-R2-fix", patient_matricule=patient, title="Bilan R2", status="corrected",
            collected_at="2026-11-19T08:05:00+01:00", reported_at="2026-11-21T09:00:00+01:00", observations=[_hb(6.1)],
            attachment={"content_type": "application/pdf", "data_base64": base64.b64encode(PDF).decode()})),
            key=f"{lab}:R2".encode())

        async def arrived() -> list[dict[str, Any]] | None:
            items: list[dict[str, Any]] = (await me.get("/v1/me/documents", params={"limit": 10})).json()["items"]
            ok = len(items) == 4 and any(d["version_count"] == 2 for d in items)
            return items if ok else None

        docs = {d["title"]: d["id"] for d in await eventually(arrived, within_s=60)}

        async def in_circle() -> bool:  # once access has the directory's word
            added = await me.post("/v1/me/access/commands", json={"command": "add-to-circle", "professional_id": DR})
            return added.status_code == 200

        await eventually(in_circle)

        async with httpx.AsyncClient(base_url=url, timeout=30) as web:
            token = await eventually(lambda: _listed(web, url))  # access has the directory's word
            valid(hapi, await web.get("/fhir/r4/metadata"))
            pro = {"Authorization": f"Bearer {token}"}
            # a read by id stands on its own: a token that never searched (kept ids, another replica, a restart)
            first = {path: valid(hapi, await web.get(f"/fhir/r4/{path}", headers=pro)) for path in (
                f"DocumentReference/{docs['Bilan R4']}", f"DiagnosticReport/{docs['Bilan R1']}",
                f"DiagnosticReport/{docs['Bilan R2']}/_history")}
            assert first[f"DocumentReference/{docs['Bilan R4']}"]["description"] == "Bilan R4"
            assert [e["resource"]["meta"]["versionId"] for e in
                    first[f"DiagnosticReport/{docs['Bilan R2']}/_history"]["entry"]] == ["2", "1"]
            alone = await web.get(f"/fhir/r4/Binary/{docs['Bilan R2']}-v2", headers=pro)
            assert alone.status_code == 200 and alone.content == PDF
            found = valid(hapi, await web.post("/fhir/r4/Patient/_search", headers=pro, data={
                "identifier": f"urn:dsp-mesh:fhir:sid:matricule|{patient}"}))
            assert found["total"] == 1 and patient not in found["link"][0]["url"]
            pid = found["entry"][0]["resource"]["id"]
            assert patient not in pid
            assert {r["subject"]["reference"] for r in first.values() if "subject" in r} == {f"Patient/{pid}"}
            page = valid(hapi, await web.get("/fhir/r4/DocumentReference", headers=pro,
                                             params={"patient": pid, "_count": 3}))
            assert page["total"] == 4 and len(page["entry"]) == 3
            assert [e["resource"]["description"] for e in page["entry"]] == ["Bilan R2", "Bilan R3", "Bilan R1"]
            rest = valid(hapi, await web.get(next(x["url"] for x in page["link"] if x["relation"] == "next"),
                                             headers=pro))
            assert [e["resource"]["description"] for e in rest["entry"]] == ["Bilan R4"] and rest["total"] == 4
            assert not any(x["relation"] == "next" for x in rest["link"])
            labs = valid(hapi, await web.get("/fhir/r4/DocumentReference", headers=pro, params={
                "patient": f"Patient/{pid}", "type": "http://loinc.org|11502-2", "date": "ge2026-11-19"}))
            assert [e["resource"]["description"] for e in labs["entry"]] == ["Bilan R2", "Bilan R3"]
            reports = valid(hapi, await web.get("/fhir/r4/DiagnosticReport", headers=pro, params={"patient": pid}))
            assert reports["total"] == 4 and reports["entry"][0]["resource"]["status"] == "corrected"
            values = valid(hapi, await web.get("/fhir/r4/Observation", headers=pro,
                                               params={"patient": pid, "code": "http://loinc.org|718-7"}))
            assert [e["resource"]["valueQuantity"]["value"] for e in values["entry"]] == [6.1, 11.0, 13.9, 14.2]
            valid(hapi, await web.get(f"/fhir/r4/DiagnosticReport/{docs['Bilan R2']}/_history", headers=pro))
            valid(hapi, await web.get(f"/fhir/r4/DiagnosticReport/{docs['Bilan R2']}/_history/1", headers=pro))
            reference = valid(hapi, await web.get(f"/fhir/r4/DocumentReference/{docs['Bilan R2']}", headers=pro))
            file_url = reference["content"][0]["attachment"]["url"]
            assert file_url == f"Binary/{docs['Bilan R2']}-v2"
            pdf = await web.get(f"/fhir/r4/{file_url}", headers=pro)
            assert pdf.status_code == 200 and pdf.content == PDF
            assert pdf.headers["content-type"] == "application/pdf"
            as_fhir = valid(hapi, await web.get(f"/fhir/r4/{file_url}", headers={**pro, "Accept": FHIR_JSON}))
            assert base64.b64decode(as_fhir["data"]) == PDF
            # a professional she never let in: the same 404 as an id that never existed, nothing else said
            outsider = {"Authorization": f"Bearer {await eventually(lambda: _listed(web, url, OUTSIDER))}"}
            unknown = await web.get("/fhir/r4/DocumentReference/never-a-document", headers=outsider)
            for path in (f"DocumentReference/{docs['Bilan R4']}", f"DiagnosticReport/{docs['Bilan R4']}/_history",
                         f"Binary/{docs['Bilan R2']}-v2"):
                theirs = await web.get(f"/fhir/r4/{path}", headers=outsider)
                assert outcome_of(theirs, 404) == outcome_of(unknown, 404) and theirs.json() == unknown.json()
            assert hapi.errors(unknown.json()) == []

            for path, status in (("/fhir/r4/DocumentReference/not-a-document", 404),
                                 (f"/fhir/r4/DocumentReference?patient={pid}&author=x", 400),
                                 (f"/fhir/r4/DocumentReference?patient={pid}x", 404),
                                 ("/fhir/r4/DocumentReference", 400), ("/fhir/r4/Condition", 404)):
                refused = await web.get(path, headers=pro)
                outcome_of(refused, status)
                assert hapi.errors(refused.json()) == []
            assert "bearer token" in outcome_of(await web.get("/fhir/r4/Patient/" + pid), 401)
            assert "expired" in outcome_of(await web.get(f"/fhir/r4/Patient/{pid}", headers={
                "Authorization": f"Bearer {secrets.token_urlsafe(32)}"}), 401)

            blocked = docs["Bilan R3"]
            done = await me.post(f"/v1/me/documents/{blocked}/block")
            assert done.status_code == 202, done.text

            async def hidden() -> bool:  # records hides it, access knows it
                again = await web.get("/fhir/r4/DocumentReference", headers=pro, params={"patient": pid})
                state = (await me.get("/v1/me/access")).json()
                return again.json()["total"] == 3 and blocked in state["blocked_documents"]

            await eventually(hidden)
            outcome_of(await web.get(f"/fhir/r4/DocumentReference/{blocked}", headers=pro), 404)  # like no document
            outcome_of(await web.get(f"/fhir/r4/DiagnosticReport/{blocked}", headers=pro), 404)

            seen = client_check(f"{url}/fhir/r4", token, patient, blocked)
        assert seen["patients"] == 1 and seen["patient_id"] == pid
        assert seen["pages"] == 2 and seen["totals"] == [3, 3]  # two at a time; the blocked one in no total
        assert seen["documents"] == [docs["Bilan R2"], docs["Bilan R1"], docs["Bilan R4"]]
        assert seen["read_document"] == "Bilan R2" and seen["report_status"] == "corrected"
        assert seen["report_version"] == "2" and seen["history"] == ["2", "1"]
        assert seen["haemoglobin"] == ["6.1 g/dL", "13.9 g/dL", "14.2 g/dL"] and seen["blocked_read"] == 404

        trail = (await me.get("/v1/me/audit", params={"limit": 200})).json()["items"]
        reads = [e for e in trail if e["who"].get("id") == DR and e["action"] == "read"]
        assert any(e["document_id"] == docs["Bilan R2"] and e["allowed"] for e in reads)  # HAPI's read, in her trail
        assert any(e["document_id"] == blocked and not e["allowed"] for e in reads)  # the refused attempt too
        assert any(e["document_id"] is None and e["allowed"] for e in reads)  # the searches
        assert any(e["who"].get("id") == OUTSIDER and e["document_id"] == docs["Bilan R4"] and not e["allowed"]
                   for e in trail)  # the outsider's refused read, answered as no such resource, in her trail

        async def told() -> bool:
            notices = (await me.get("/v1/me/notifications")).json()["items"]
            return any(n["template"] == "first-access" for n in notices)

        assert await eventually(told)

        mine = valid(hapi, await me.get("/v1/me/export"))  # 'Télécharger mon DSP': everything, blocked ones too
        assert mine["type"] == "collection"
        summary = mine["entry"][0]["resource"]
        assert summary["type"] == "document" and summary["entry"][0]["resource"]["resourceType"] == "Composition"
        kinds = [e["resource"]["resourceType"] for e in mine["entry"][1:]]
        assert kinds.count("DocumentReference") == 4 and kinds.count("DiagnosticReport") == 5  # R2's two versions
        assert {"Patient", "Binary", "Observation", "Provenance", "Consent", "AuditEvent"} <= set(kinds)
        audited = [e["resource"] for e in mine["entry"] if e["resource"]["resourceType"] == "AuditEvent"]
        assert any(a["agent"][0]["who"].get("identifier", {}).get("value") == DR for a in audited)
        page = await me.get("/documents")  # the portal's button, in French by default
        assert page.status_code == 200 and 'id="dsp-export"' in page.text and "Télécharger mon DSP" in page.text
        button = await me.get("/export")
        assert button.status_code == 200 and button.headers["content-disposition"].startswith("attachment")
        assert button.json()["type"] == "collection"
        async with httpx.AsyncClient(base_url=url, timeout=30) as doctor:  # a professional has no export
            now = int(time.time())
            login = await doctor.post("/v1/pro/login", json={"assertion": sign(portal["idp"], DR, now + 60,
                                                                                issued=now)})
            assert login.status_code == 200, login.text
            assert (await doctor.get("/v1/me/export")).status_code == 401
            assert (await doctor.get("/v1/me/export", headers={"X-DSP-Patient": patient})).status_code == 401
    finally:
        await me.aclose()


async def test_a_token_needs_a_registered_key_a_fresh_single_use_assertion_and_a_listed_professional(
        portal: dict[str, Any], producer: AIOKafkaProducer, hapi: FhirValidator) -> None:
    url = portal["url"]
    await list_professionals(producer, DR)
    async with httpx.AsyncClient(base_url=url, timeout=30) as web:
        await eventually(lambda: _listed(web, url))
        once = assertion(url)
        granted = await ask_token(web, once, "user/DocumentReference.read user/Patient.read")
        assert granted.status_code == 200, granted.text
        body = granted.json()
        assert body["token_type"] == "bearer" and body["expires_in"] == 300
        assert body["scope"] == "user/DocumentReference.read user/Patient.read"
        assert "already used" in outcome_of(await ask_token(web, once), 401)  # the jti, replayed
        forged = assertion(url, key=ed25519.Ed25519PrivateKey.generate())
        assert "InvalidSignatureError" in outcome_of(await ask_token(web, forged), 401)
        assert "expire" in outcome_of(await ask_token(web, assertion(url, exp_in=-5)), 401)
        assert "expire" in outcome_of(await ask_token(web, assertion(url, exp_in=3600)), 401)
        other = assertion(url, dsp_professional="PRO-NOT-MINE")
        assert "may act for" in outcome_of(await ask_token(web, other), 401)
        unlisted = assertion(url, dsp_professional=STRANGER)  # the client's, but not in the directory
        assert "professional directory" in outcome_of(await ask_token(web, unlisted), 401)
        stranger = assertion(url, iss="someone", sub="someone")
        assert outcome_of(await ask_token(web, stranger), 401) == "unknown client"
        assert "scope" in outcome_of(await ask_token(web, assertion(url), "user/Patient.write"), 400)
        assert hapi.errors((await ask_token(web, assertion(url), "patient/*.*")).json()) == []

        limited = {"Authorization": f"Bearer {body['access_token']}"}
        assert "scopes" in outcome_of(await web.get("/fhir/r4/Observation?patient=x", headers=limited), 403)

        now = int(time.time())  # the professional's own identity: the identity provider's assertion, used once
        idp = sign(portal["idp"], DR, now + 60, issued=now)
        exchanged = await web.post("/fhir/r4/auth/token", data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": idp})
        assert exchanged.status_code == 200 and exchanged.json()["scope"] == "user/*.read", exchanged.text
        again = await web.post("/fhir/r4/auth/token", data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": idp})
        assert outcome_of(again, 401) == "assertion already used"
        smart = (await web.get("/fhir/r4/.well-known/smart-configuration")).json()
        assert smart["token_endpoint"] == f"{url}/fhir/r4/auth/token"

        # token requests are limited per client address, counted by every replica in FerretDB: a stranger
        # hammering the endpoint is refused, the practice elsewhere is not
        stranger = [await ask_token(web, "not-a-jwt", address="203.0.113.66") for _ in range(TOKEN_LIMIT + 1)]
        assert {r.status_code for r in stranger[:TOKEN_LIMIT]} == {401}
        assert "too many token requests" in outcome_of(stranger[-1], 429)
        assert 1 <= int(stranger[-1].headers["Retry-After"]) <= 60 and hapi.errors(stranger[-1].json()) == []
        practice = await ask_token(web, assertion(url), address="198.51.100.7")
        assert practice.status_code == 200, practice.text
