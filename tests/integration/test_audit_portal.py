"""The audit trail through the portal (issue 24, "Trust II"): an assistant's reads of a child's documents are access
decisions on those documents, in the child's "Traçabilité" as reads of those documents by the assistant (the owner's
own reads stay unaudited); a patient downloads her whole trail signed by access ("Télécharger mon journal signé", the
API's `GET /v1/me/audit/export` and the portal's button), which verifies with the key published at
`GET /v1/audit/public-key` — and not once a byte is changed; a stranger or a professional gets none."""

from __future__ import annotations

import json
import time
from datetime import date
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from services.access import verify_export
from services.access.domain import signing
from services.gateway.pro_assertion import sign
from tests.integration import test_gateway
from tests.integration.test_gateway import onboard, problem_of
from tests.support import encode, eventually, lab_result, make_matricule

portal = test_gateway.portal  # the same world (workers, sinks) as the gateway's tests, this module's own


async def _trail(web: httpx.AsyncClient, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    reply = await web.get("/v1/me/audit", params={"limit": 200}, headers=headers or {})
    assert reply.status_code == 200, reply.text
    return list(reply.json()["items"])


async def test_an_assistants_reads_of_a_childs_documents_are_audited_per_document(
        portal: dict[str, Any], producer: AIOKafkaProducer, unique: str) -> None:
    serial = int(unique[:3], 16) % 1000
    parent, child = make_matricule(date(1985, 7, 21), serial), make_matricule(date(2017, 1, 30), serial)
    lab = f"LAB-{unique}"
    for report, title in (("R1", "Bilan sanguin de Léo"), ("R2", "Sérologie de Léo")):
        await producer.send_and_wait("lab.results.v1", encode(lab_result(
            lab, report, f"{unique}-{report}", patient_matricule=child, title=title)), key=f"{lab}:{report}".encode())
    mom = await onboard(portal, producer, parent, f"mom.{unique}", given_name="Anne", family_name="Kayser")
    kid = await onboard(portal, producer, child, f"leo.{unique}", given_name="Léo", family_name="Kayser",
                        guardians=[parent])
    as_child = {"X-DSP-Patient": child}
    try:
        added = await kid.post("/v1/me/access/commands", json={"command": "add-assistant", "assistant": parent})
        assert added.status_code == 200, added.text

        async def both() -> list[dict[str, Any]] | None:
            reply = await kid.get("/v1/me/documents")  # the child's own reads: never audited
            items: list[dict[str, Any]] = reply.json()["items"]
            return items if len(items) == 2 else None
        documents = await eventually(both, within_s=60)
        blood = next(d for d in documents if d["title"] == "Bilan sanguin de Léo")
        before = await _trail(kid)

        listed = await mom.get("/v1/me/documents", headers=as_child)
        assert listed.status_code == 200 and len(listed.json()["items"]) == 2
        read = await mom.get(f"/v1/me/documents/{blood['id']}", headers=as_child)
        assert read.status_code == 200 and read.json()["title"] == "Bilan sanguin de Léo"
        assert (await mom.get("/v1/me/documents")).json()["items"] == []  # the parent's own DSP: not audited

        after = await _trail(kid)
        new = after[:len(after) - len(before)]  # newest first
        assert [(e["who"]["id"], e["who"]["name"], e["action"], e["document_id"], e["document_title"], e["reason"])
                for e in reversed(new)] == [
            (parent, "Anne Kayser", "read", None, None, "DSP assistant"),  # the list: a read of the DSP
            (parent, "Anne Kayser", "read", blood["id"], "Bilan sanguin de Léo", "DSP assistant")]  # that document
        assert not [e for e in new if e["action"] == "manage"]  # no longer one `manage` entry without the document
        assert not [e for e in after if e["who"]["id"] == child and e["action"] == "read"]  # her own reads: none
        assert not [e for e in await _trail(mom) if e["action"] == "read"]  # nor the parent's of her own DSP
    finally:
        await mom.aclose()
        await kid.aclose()


async def test_a_patient_downloads_her_signed_trail_which_verifies_with_the_published_key(
        portal: dict[str, Any], producer: AIOKafkaProducer, unique: str) -> None:
    serial = int(unique[:3], 16) % 1000
    patient, stranger = make_matricule(date(1966, 10, 3), serial), make_matricule(date(1991, 2, 17), serial)
    dr = f"DRX-{unique}"
    await producer.send_and_wait("directory.professionals.v1", encode({
        "message_id": f"dir-{unique}", "professional_id": dr, "given_name": "Marc", "family_name": "Feller",
        "profession": "Médecin", "specialty": "Cardiologie"}), key=dr.encode())
    web = await onboard(portal, producer, patient, f"exp.{unique}", given_name="Nadia", family_name="Reuter")
    try:
        async def added() -> bool:
            reply = await web.post("/v1/me/access/commands", json={"command": "add-to-circle", "professional_id": dr})
            return reply.status_code == 200
        await eventually(added, within_s=60)  # until access knows the professional and the patient

        reply = await web.get("/v1/me/audit/export")
        assert reply.status_code == 200, reply.text
        assert reply.headers["content-type"] == "application/json"
        assert reply.headers["content-disposition"] == 'attachment; filename="dsp-audit-trail.json"'
        document = reply.json()
        assert document["patient"] == patient and document["verification"]["intact"] is True
        assert [e["action"] for e in document["entries"]][-1] == "add-to-circle"

        async with httpx.AsyncClient(base_url=portal["url"], timeout=30) as anyone:  # no session needed
            published = await anyone.get("/v1/audit/public-key")
            assert published.status_code == 200, published.text
            jwks = published.json()
            assert (await anyone.get("/v1/me/audit/export")).status_code == 401
        signing.check_document(document, signing.public_keys(jwks))
        holds, broken = verify_export.check(document, jwks)
        assert not broken and holds[0].startswith("signature: valid")
        raw = reply.content
        at = raw.index(b"add-to-circle")
        changed = raw[:at] + b"A" + raw[at + 1:]  # one byte of one entry
        assert verify_export.check(json.loads(changed), jwks)[1][0].startswith("signature: NOT VALID")

        page = await web.get("/audit")  # the portal's Traçabilité, in French by default
        assert page.status_code == 200 and 'id="audit-export"' in page.text
        assert "Télécharger mon journal signé" in page.text and "/v1/audit/public-key" in page.text
        button = await web.get("/audit/export")
        assert button.status_code == 200 and button.headers["content-disposition"].startswith("attachment")
        signing.check_document(button.json(), signing.public_keys(jwks))

        refused = await web.get("/v1/me/audit/export", headers={"X-DSP-Patient": stranger})
        assert problem_of(refused, 403, "forbidden")["reason"] == "not the owner nor a DSP assistant of this record"
        async with httpx.AsyncClient(base_url=portal["url"], timeout=30) as doctor:
            async def logged_in() -> bool:
                login = await doctor.post("/v1/pro/login", json={"assertion": sign(portal["idp"], dr,
                                                                                   int(time.time()) + 300)})
                return login.status_code == 200
            await eventually(logged_in, within_s=60)
            for headers in ({}, {"X-DSP-Patient": patient}):  # a professional is no patient: no trail to download
                assert (await doctor.get("/v1/me/audit/export", headers=headers)).status_code == 401
    finally:
        await web.aclose()
