"""The patient's documents in a real Chromium, as a person uses them: a lab result with out-of-range values and its
correction on the home page, its values table (a flag in words, not colour alone), its versions and its file; the
search (a POST form: the term never in a URL), the timeline, an upload (and files refused at the field, by the
portal and by the API), 'Traçabilité' and the notifications marked read. Every page axe-core clean in French,
German and English."""

from __future__ import annotations

import asyncio
import base64
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from selenium.webdriver.common.by import By

from tests import sample_files
from tests.browser import Person, chromium
from tests.integration import test_gateway
from tests.integration.access_support import fresh_matricule
from tests.integration.portal_web_support import activated, log_in
from tests.support import encode, eventually, lab_result, laboratory_name

portal = test_gateway.portal  # the same world (workers, sinks) as the gateway's tests, this module's own
# a person reads a page in a few seconds; this test reads each one in three languages at once (2-3 API calls a page)
GATEWAY_ENV = {"DSP_GATEWAY_SESSION_RATE_LIMIT_PER_MINUTE": "1000"}


async def _reload_until(person: Person, path: str, text: str, within_s: float = 90) -> Person:
    """Open `path` again (every 1.5 s: the API's limit per session) until the page shows `text`."""
    async def shown() -> bool:
        person.open(path)
        if text in person.text:
            return True
        await asyncio.sleep(1.5)
        return False
    await eventually(shown, within_s=within_s, every_s=0.1)
    return person


def _every_language(person: Person, words: dict[str, str] | None = None) -> None:
    """This page axe-core clean in French, German and English (back to French at the end)."""
    person.assert_accessible()
    for lang in ("de", "en", "fr"):
        person.language(lang)
        if words and lang in words:
            assert words[lang] in person.text, (lang, person.path, person.text[:2000])
        person.assert_accessible()


def _web(person: Person, portal: dict[str, Any]) -> httpx.AsyncClient:
    """An HTTP client with the browser's cookies (its session), as the browser's own download would be."""
    cookies = {c["name"]: c["value"] for c in person.driver.get_cookies()}
    return httpx.AsyncClient(base_url=portal["url"], cookies=cookies, timeout=30)


def _field_error(person: Person, name: str) -> str:
    box = person.element(name)
    assert box.get_attribute("aria-invalid") == "true", name
    assert f"{name}-error" in (box.get_attribute("aria-describedby") or "")
    return str(person.element(f"{name}-error").text)


async def test_a_patient_reads_searches_uploads_and_traces_her_documents(
        portal: dict[str, Any], producer: AIOKafkaProducer, unique: str, tmp_path: Path) -> None:
    matricule = fresh_matricule(date(1974, 9, 23), int(unique[:4], 16))
    lab, report = f"LAB-{unique}", sample_files.pdf("Hémogramme")
    attached = {"content_type": "application/pdf", "data_base64": base64.b64encode(report).decode()}
    first = lab_result(lab, "R1", f"{unique}-v1", patient_matricule=matricule, title="Hémogramme",
                       collected_at="2026-10-05T08:00:00Z", reported_at="2026-10-05T12:00:00Z", attachment=attached)
    corrected = lab_result(lab, "R1", f"{unique}-v2", patient_matricule=matricule, title="Hémogramme (corrigé)",
                           status="corrected", collected_at="2026-10-05T08:00:00Z",
                           reported_at="2026-10-06T09:00:00Z", attachment=attached)
    corrected["observations"][0] = {**corrected["observations"][0], "value": 11.2, "interpretation": "L"}
    for body in (first, corrected):
        await producer.send_and_wait("lab.results.v1", encode(body), key=f"{lab}:R1".encode())
    mail = await activated(portal, producer, matricule, f"docs.{unique}", given_name="Claire", family_name="Hansen")

    with chromium() as driver:
        person = Person(driver, portal["url"])
        await log_in(person, portal, matricule, mail)

        # home: the greeting, the notifications, the search form, the latest documents
        await _reload_until(person, "/home", "Hémogramme (corrigé)")
        await _reload_until(person, "/home", "Bonjour, Claire")  # her name: once access has read the registry
        person.sees("Derniers documents", "Rechercher un document")
        assert laboratory_name(lab) in person.element("latest-table").text  # "Laboratoire LAB-…", not "LAB-…" alone
        assert person.element("unread-count").text
        person.screenshot("home")
        _every_language(person, {"de": "Neueste Dokumente", "en": "Latest documents"})

        # the lab result: its values (out of range flagged in words), its versions (the correction), its file
        driver.find_element(By.LINK_TEXT, "Hémogramme (corrigé)").click()
        person.sees("Historique des versions")
        assert person.path.startswith("/documents/")
        document_path = person.path
        flagged = {r.find_element(By.TAG_NAME, "th").text.split("\n")[0]: r.text
                   for r in driver.find_elements(By.CSS_SELECTOR, "#values tbody tr.out-of-range")}
        assert set(flagged) == {"Hémoglobine", "Leucocytes"}, flagged
        assert "Bas" in flagged["Hémoglobine"] and "11,2 g/dL" in flagged["Hémoglobine"]
        assert "Élevé" in flagged["Leucocytes"] and "LOINC 6690-2" in flagged["Leucocytes"]
        assert "12 – 16 g/dL" in flagged["Hémoglobine"]
        assert "Négative" in person.element("values").text  # a text value
        versions = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#versions tbody tr")]
        assert len(versions) == 2 and "Corrigé" in versions[0] and "Définitif" in versions[1], versions
        assert "Corrigé" in person.element("document-status").text
        assert person.element("laboratory").text == laboratory_name(lab)  # the directory's name, not the id
        assert "Oui" in person.element("blocked-state").text
        href = person.element("download").get_attribute("href") or ""
        older = driver.find_element(By.CSS_SELECTOR, "#versions a[href$='?version=1']").get_attribute("href") or ""
        async with _web(person, portal) as web:
            for link in (href, older):
                served = await web.get(link)
                assert served.status_code == 200, (link, served.text[:300])
                assert served.content == report and served.headers["content-type"] == "application/pdf"
                assert served.headers["content-disposition"].startswith("attachment")
            assert (await web.get("/documents/no-such-document")).status_code == 404
        person.screenshot("lab-result")
        _every_language(person, {"de": "Versionsverlauf", "en": "Version history"})
        person.language("de")
        assert "Niedrig" in person.element("values").text and "Hoch" in person.element("values").text
        person.language("fr")

        # the search: a POST form, its results in the answer, the term in no URL
        person.open("/documents").type("q", "leucocytes").press("search")
        assert person.path == "/documents/search" and "leucocytes" not in driver.current_url
        assert "Hémogramme (corrigé)" in person.element("results-table").text
        person.assert_accessible()
        for lang, found in (("de", "Gefundene Dokumente"), ("en", "Documents found")):
            person.language(lang)  # the answer of a POST: back to the documents, searched again
            person.type("q", "leucocytes").press("search").sees(found)
            person.assert_accessible()
        person.language("fr")
        person.type("q", "radiographie").press("search").sees("Aucun document ne correspond à votre recherche.")
        person.type("q", "x").press("search")
        assert _field_error(person, "q") == "Tapez au moins deux lettres."
        person.open("/documents")
        assert "Hémogramme (corrigé)" in person.element("documents-table").text
        _every_language(person, {"de": "Alle Dokumente", "en": "All documents"})

        # the timeline between two dates, oldest first
        person.open("/timeline?start=2026-10-01&end=2026-10-31")
        assert "Hémogramme (corrigé)" in person.element("timeline-table").text
        person.assert_accessible()
        person.open("/timeline?start=2026-11-01&end=2026-11-30").sees("Aucun document entre ces dates.")
        person.open("/timeline?start=2026-10-31&end=2026-10-01")
        assert _field_error(person, "end")
        person.open("/timeline")
        assert "Hémogramme (corrigé)" in person.element("timeline-table").text  # the last twelve months
        _every_language(person, {"de": "Ihre Dokumente zwischen zwei Daten", "en": "Your documents between two dates"})

        # an upload: refused at the field by the portal (not a PDF; not the type chosen) and by the API (damaged)
        wrong, png, damaged, good = (tmp_path / n for n in ("notes.txt", "photo.png", "broken.pdf", "carnet.pdf"))
        wrong.write_bytes(b"just some text, not a document")
        png.write_bytes(sample_files.image("PNG", (600, 400), noisy=True))  # larger than a form's usual 64 KiB
        damaged.write_bytes(sample_files.pdf()[:-40])
        good.write_bytes(sample_files.pdf("Carnet de vaccination"))
        for file, said in ((wrong, "Ce fichier n'est pas un PDF, JPEG ou PNG."),
                           (png, "Le contenu du fichier ne correspond pas au type choisi."),
                           (damaged, "Le PDF est endommagé ou illisible.")):
            person.open("/documents/upload").type("title", "Carnet de vaccination").choose("kind", "application/pdf")
            person.element("file").send_keys(str(file))
            person.press("upload")
            assert _field_error(person, "file") == said, person.text[:500]
            assert person.element("title").get_attribute("value") == "Carnet de vaccination"
        person.assert_accessible()  # the page with its error
        person.open("/documents/upload")
        _every_language(person, {"de": "Ein Dokument hochladen", "en": "Upload a document"})
        person.type("title", "Carnet de vaccination").choose("kind", "application/pdf")
        person.element("file").send_keys(str(good))
        person.press("upload")
        assert person.path.startswith("/documents/uploaded/gw-"), person.text[:300]
        uploaded = person.path
        await _reload_until(person, uploaded, "Votre document est enregistré dans votre DSP.")
        _every_language(person, {"de": "Ihr Dokument ist in Ihrer DSP gespeichert.",
                                 "en": "Your document is stored in your DSP."})
        person.press("open-upload").sees("Carnet de vaccination", "Mon dépôt")
        person.assert_accessible()

        # Traçabilité: a change of her settings, named, allowed, with its reason
        async with _web(person, portal) as web:
            async def accepted() -> bool:
                reply = await web.post("/v1/me/access/commands",
                                       json={"command": "set-emergency-access", "refused": False})
                return reply.status_code == 200
            await eventually(accepted, within_s=60)
        await _reload_until(person, "/audit", "Modification du réglage de l'accès d'urgence")
        trail = person.element("audit-table").text
        assert "Claire Hansen" in trail and "Autorisé" in trail, trail
        person.screenshot("traceability")
        _every_language(person, {"de": "Einstellung des Notfallzugriffs geändert", "en": "Allowed"})

        # notifications: unread ones marked read, one, then all
        await _reload_until(person, "/notifications", "Non lu")
        unread = len(driver.find_elements(By.CSS_SELECTOR, "#notices li.unread"))
        assert unread >= 1
        person.assert_accessible()
        person.press("mark-read-1").sees("Marqué comme lu.")
        assert len(driver.find_elements(By.CSS_SELECTOR, "#notices li.unread")) == unread - 1
        if unread > 1:
            person.press("mark-all-read")
        person.sees("Vous n'avez aucune notification non lue.")
        assert not driver.find_elements(By.CSS_SELECTOR, "#notices li.unread")
        _every_language(person, {"de": "Benachrichtigungen", "en": "Notifications"})
        person.open("/home").sees("Vous n'avez aucune notification non lue.")

        # every page built here was checked in German and English
        for page in ("/home", "/documents", "/documents/search", document_path, "/documents/upload", uploaded,
                     "/timeline", "/audit", "/notifications"):
            assert {"de", "en"} <= {lang for path, lang in person.checked if path == page}, (page, person.checked)
