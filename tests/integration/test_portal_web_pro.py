"""The health professional's pages in a real Chromium: log in by pasting the identity provider's signed assertion
(a forged one and a replayed one refused, in the reader's language), no patients yet, a wrong presence password
refused then the right one, the patient listed with her grant, her record opened (chosen by a POST, kept in a
sealed cookie), a lab result's values with units, ranges and flags in words, its file downloaded, a document she
blocked refused; break the glass refused for a patient who refused emergency access; logout. The patient then
reads the professional's access in her "Traçabilité". Every page axe-core clean, in French, German and English."""

from __future__ import annotations

import base64
import time
from datetime import date
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from services.gateway.pro_assertion import sign
from tests import sample_files
from tests.browser import Person, chromium
from tests.integration import test_gateway
from tests.integration.portal_web_support import log_in
from tests.integration.test_gateway import onboard
from tests.support import encode, eventually, lab_result, make_matricule

portal = test_gateway.portal  # the same world (workers, sinks) as the gateway's tests, this module's own

WHY = "Patient inconscient aux urgences, allergies à vérifier"


async def _publish(producer: AIOKafkaProducer, topic: str, key: str, body: dict[str, Any]) -> None:
    await producer.send_and_wait(topic, encode(body), key=key.encode())


async def _ok(web: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A patient's POST, accepted (access learns a new person from the registry on its own time: until it has, the
    patient is unknown to it and the call is sent again)."""

    async def accepted() -> dict[str, Any] | None:
        reply = await web.post(path, json=body)
        if reply.status_code == 400 and reply.json().get("reason") == "unknown patient":
            return None
        assert reply.status_code == 200, reply.text
        return dict(reply.json())
    found: dict[str, Any] = await eventually(accepted, within_s=60)
    return found


async def _document_ids(web: httpx.AsyncClient, count: int) -> dict[str, str] | None:
    items = (await web.get("/v1/me/documents")).json()["items"]
    return {d["title"]: d["id"] for d in items} if len(items) >= count else None


def _in_every_language(person: Person, *words: tuple[str, str]) -> None:
    """The page axe-core clean as it is, then in German and in English (each language's word seen)."""
    person.assert_accessible()
    for lang, word in words:
        person.language(lang).sees(word)
        person.assert_accessible()


async def test_a_professional_reads_a_patient_with_her_presence_password(
        portal: dict[str, Any], producer: AIOKafkaProducer, unique: str) -> None:
    serial = int(unique[:3], 16) % 1000
    patient, refuser = make_matricule(date(1968, 3, 14), serial), make_matricule(date(1980, 6, 1), serial)
    lab, dr, family = f"LAB-{unique}", f"PRO-{unique}", f"Kremer-{unique}"
    await _publish(producer, "directory.professionals.v1", dr, {
        "message_id": f"dir-{dr}", "professional_id": dr, "given_name": "Luc", "family_name": family,
        "profession": "Médecin", "specialty": "Médecine générale"})
    pdf = sample_files.pdf("Hémogramme complet")
    await _publish(producer, "lab.results.v1", f"{lab}:R1", lab_result(
        lab, "R1", f"{unique}-r1", patient_matricule=patient, collected_at="2026-10-05T08:00:00Z",
        reported_at="2026-10-05T12:00:00Z",
        attachment={"content_type": "application/pdf", "data_base64": base64.b64encode(pdf).decode()}))
    await _publish(producer, "lab.results.v1", f"{lab}:R2", lab_result(
        lab, "R2", f"{unique}-r2", patient_matricule=patient, title="Bilan lipidique",
        collected_at="2026-11-10T08:00:00Z", reported_at="2026-11-10T15:00:00Z",
        observations=[{"loinc": "2093-3", "display": "Cholestérol total", "value": 5.1, "unit": "mmol/L",
                       "reference_high": 5.2, "interpretation": "N"}]))
    web = await onboard(portal, producer, patient, f"pro.{unique}", given_name="Claire", family_name="Hansen")
    other = await onboard(portal, producer, refuser, f"refuser.{unique}", given_name="Jean", family_name="Muller")
    try:
        presence = (await _ok(web, "/v1/me/presence-password", {}))["presence_password"]
        await _ok(other, "/v1/me/access/commands", {"command": "set-emergency-access", "refused": True})
        ids = await eventually(lambda: _document_ids(web, 2), within_s=120)
        blood, lipids = ids["Hémogramme complet"], ids["Bilan lipidique"]
        assert (await web.post(f"/v1/me/documents/{lipids}/block")).status_code == 202

        with chromium() as driver:
            pro = Person(driver, portal["url"])
            # login: a forged assertion refused at the field, in French; the page in three languages
            pro.open("/pro/login").sees("Connexion des professionnels de santé")
            pro.type("assertion", sign(b"not-the-idp-key", dr, int(time.time()) + 300)).press("pro-login")
            assert pro.element("assertion-error").text == "l'assertion n'est pas valide"
            assert pro.element("assertion").get_attribute("aria-invalid") == "true"
            _in_every_language(pro, ("de", "Anmeldung für Gesundheitsfachkräfte"),
                               ("en", "Health professional login"))
            typed: list[str] = []

            async def logged_in() -> bool:  # once the directory lists the professional
                typed.append(sign(portal["idp"], dr, int(time.time()) + 300))
                pro.type("assertion", typed[-1]).press("pro-login")
                return pro.path == "/pro"
            await eventually(logged_in, within_s=60, every_s=1)

            # my patients: none yet; a wrong presence password refused, then the right one
            pro.sees("Luc " + family, "You have no patient yet")
            pro.type("presence-patient", patient).type("presence-password", "AAAA-AAAA").press("redeem")
            assert pro.element("presence-error").text == "wrong presence password"
            assert pro.element("presence-password").get_attribute("aria-invalid") == "true"
            pro.assert_accessible()
            pro.type("presence-patient", patient).type("presence-password", presence).press("redeem")
            pro.sees("Presence password accepted")
            row = pro.element("patients").text
            assert "Claire Hansen" in row and "Presence password" in row, row
            _in_every_language(pro, ("de", "Anwesenheitspasswort"), ("en", "Presence password"))
            assert pro.path == "/pro"  # the language changed on a form's answer: my patients again

            # her record, chosen by a POST (nothing personal in the address)
            pro.press("open-1")
            assert pro.path == "/pro/patient" and patient not in driver.current_url
            pro.sees("Record of Claire Hansen", "Hémogramme complet")
            pro.screenshot("pro-patient")
            _in_every_language(pro, ("de", "Akte von Claire Hansen"), ("en", "Record of Claire Hansen"))

            # the lab result: values, units, reference ranges, flags in words; versions; the file
            pro.press(f"doc-{blood}")
            assert pro.path == f"/pro/documents/{blood}"
            results = pro.element("results").text
            for seen in ("Hémoglobine", "13.9", "g/dL", "12 – 16", "normal (N)", "Leucocytes", "11.8", "10*9/L",
                         "high (H)", "Hémoculture", "Négative"):
                assert seen in results, (seen, results)
            assert "final" in pro.element("versions").text
            _in_every_language(pro, ("de", "hoch (H)"), ("en", "high (H)"))
            assert "13,9" not in pro.element("results").text
            cookies = {c["name"]: c["value"] for c in driver.get_cookies()}
            async with httpx.AsyncClient(base_url=portal["url"], cookies=cookies) as browser:
                served = await browser.get(f"/pro/documents/{blood}/file")
            assert served.status_code == 200 and served.content == pdf
            assert served.headers["content-disposition"].startswith("attachment")
            assert served.headers["cache-control"] == "no-store"

            # a document the patient blocked: refused, with the reason
            async def blocked() -> bool:
                pro.open(f"/pro/documents/{lipids}")
                return "document blocked by the patient" in pro.text
            await eventually(blocked, within_s=60, every_s=1)
            pro.assert_accessible()

            # break the glass for a patient who refused emergency access: refused, the reason at the form
            pro.open("/pro")
            pro.type("glass-patient", refuser).type("glass-justification", WHY).press("break-glass")
            assert pro.element("glass-error").text == "the patient has refused emergency access"
            pro.assert_accessible()

            # logout; the assertion used cannot be used again
            pro.press("logout")
            assert pro.path == "/pro/login"
            pro.open("/pro")
            assert pro.path == "/pro/login"  # no session: the login page
            pro.type("assertion", typed[-1]).press("pro-login")
            assert pro.element("assertion-error").text == "assertion already used"
            for path, lang in (("/pro/login", "de"), ("/pro", "de"), ("/pro/patient", "de"),
                               (f"/pro/documents/{blood}", "de"), ("/pro/login", "en"), ("/pro", "en"),
                               ("/pro/patient", "en"), (f"/pro/documents/{blood}", "en")):
                assert (path, lang) in pro.checked, (path, lang, pro.checked)

        # the patient's "Traçabilité" shows the professional's read, named
        trail = (await web.get("/v1/me/audit")).json()["items"]
        reads = [e for e in trail if e["who"]["id"] == dr and e["action"] == "read" and e["allowed"]]
        assert blood in {e["document_id"] for e in reads}, trail
        assert {e["who"]["name"] for e in reads} == {"Luc " + family}
        with chromium() as driver:
            me = await log_in(Person(driver, portal["url"]), portal, patient, f"pro.{unique}@example.lu")
            me.open("/audit").sees("Luc " + family, "Hémogramme complet")
    finally:
        await web.aclose()
        await other.aclose()
