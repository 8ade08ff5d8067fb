"""The portal's settings pages in a real Chromium, as a person uses them (issue 13): health professionals (found by
name, added with an access period, made referring GP, blocked and unblocked, removed), emergency access refused,
organ donation given and withdrawn with its history, a DSP assistant added by number (the name shown, then
confirmed) and removed, a document blocked and unblocked, the login password changed (and used), a presence
password generated and shown once on a wallet card; a parent switching to each child's DSP and back. Every page
axe-core clean, each in German and English at least once."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import date
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from selenium.webdriver.common.by import By

from tests.browser import Person, chromium
from tests.integration import test_gateway
from tests.integration.access_support import fresh_matricule
from tests.integration.portal_web_support import log_in
from tests.integration.test_gateway import onboard
from tests.support import encode, eventually, lab_result

portal = test_gateway.portal  # the same world (workers, sinks) as the gateway's tests, this module's own
GATEWAY_ENV = {"DSP_GATEWAY_SESSION_RATE_LIMIT_PER_MINUTE": "1000"}  # a browser walking fast, several calls a page

PAGES = ("/professionals", "/emergency", "/consents", "/assistants", "/blocked-documents", "/passwords")


async def _publish(producer: AIOKafkaProducer, topic: str, key: str, body: dict[str, Any]) -> None:
    await producer.send_and_wait(topic, encode(body), key=key.encode())


async def _known(web: httpx.AsyncClient) -> None:
    """Until access has learnt the person from the registry (before that, its commands are refused)."""
    async def named() -> bool:
        reply = await web.get("/v1/me/access")
        return reply.status_code == 200 and bool(reply.json().get("patient_name"))
    await eventually(named, within_s=90)


async def _patient(portal: dict[str, Any], producer: AIOKafkaProducer, matricule: str, tag: str,
                   **fields: Any) -> str:
    web = await onboard(portal, producer, matricule, tag, **fields)
    try:
        await _known(web)
    finally:
        await web.aclose()
    return f"{tag}@example.lu"


def _has(person: Person, element_id: str) -> bool:
    return bool(person.driver.find_elements(By.ID, element_id))


async def _until_shown(person: Person, act: Any, element_id: str, within_s: float = 60) -> None:
    """Repeat `act` (a search, a reload) until the page shows `element_id` (an asynchronous effect landed)."""
    deadline = time.monotonic() + within_s
    while True:
        act()
        if _has(person, element_id):
            return
        assert time.monotonic() < deadline, f"no #{element_id} on {person.path}: {person.text[:400]}"
        await asyncio.sleep(1.5)


def _checked(person: Person, *paths: str) -> None:
    for path in paths:
        for lang in ("de", "en"):
            assert (path, lang) in person.checked, f"{path} never axe-checked in {lang}"


async def test_a_patient_manages_her_professionals_access_consents_assistants_and_passwords(
        portal: dict[str, Any], producer: AIOKafkaProducer, unique: str) -> None:
    seed = int(unique[:4], 16)
    patient, friend = fresh_matricule(date(1976, 6, 14), seed), fresh_matricule(date(1968, 2, 9), seed)
    family = f"Kayl{unique}"  # the directory is the session's: other tests list their own doctors
    gp = f"GPW-{unique}"
    await _publish(producer, "directory.professionals.v1", gp, {
        "message_id": f"dir-{gp}", "professional_id": gp, "given_name": "Anne", "family_name": family,
        "profession": "Médecin", "specialty": "Médecine générale"})
    await _publish(producer, "registry.persons.v1", friend, {
        "message_id": f"reg-{friend}", "matricule": friend, "given_name": "Paul", "family_name": "Reding",
        "birth_date": f"{friend[:4]}-{friend[4:6]}-{friend[6:8]}",
        "postal_address": {"line1": "1 rue Neuve", "postal_code": "L-1111", "locality": "Luxembourg"}})
    lab = f"LAB-{unique}"
    await _publish(producer, "lab.results.v1", f"{lab}:R1", lab_result(
        lab, "R1", f"{unique}-r1", patient_matricule=patient, title="Hémogramme de contrôle"))
    mail = await _patient(portal, producer, patient, f"settings.{unique}", given_name="Claire",
                          family_name="Hansen")
    doctor = f"Anne {family}"

    with chromium() as driver:
        person = Person(driver, portal["url"])
        await log_in(person, portal, patient, mail)

        # health professionals: found by name (POSTed), added with a period, referring GP, blocked, removed
        person.open("/professionals").sees("Cercle médical de confiance")
        person.assert_accessible()
        person.language("de").assert_accessible()

        def search() -> None:
            person.type("q", family.lower()).press("search")
        await _until_shown(person, search, "add-1")
        assert "q=" not in person.path and family.lower() not in person.path
        person.sees(doctor, "Médecine générale").assert_accessible()
        person.choose("period-days-1", "90").press("add-1")
        assert person.path == "/professionals?done=added"
        assert doctor in person.element("circle").text
        person.press("gp-1")
        assert doctor in person.element("referring-gp").text
        person.choose("days-1", "30").press("period-1").sees("Die Zugriffsdauer wurde geändert.")
        person.press("unset-gp").sees("Sie haben keinen Hausarzt des Vertrauens mehr")  # she stays in the circle
        assert doctor not in person.element("referring-gp").text and doctor in person.element("circle").text
        person.press("gp-1")
        assert doctor in person.element("referring-gp").text
        person.screenshot("professionals")
        person.language("en").assert_accessible()
        person.sees("Trusted medical circle", "Referring GP")
        search()
        person.press("block-result-1")
        assert doctor in person.element("blocked-professionals").text
        person.press("unblock-1").sees("The professional is no longer blocked.")
        person.press("remove-1").sees("The professional was removed from your trusted circle.")
        assert _has(person, "circle-empty") and doctor not in person.element("referring-gp").text

        # emergency access refused (the current setting shown), in English then in German
        person.open("/emergency").assert_accessible()
        person.sees("Now: emergency access is allowed")
        person.tick("emergency-refused").press("save-emergency")
        person.sees("Your emergency access setting is saved.", "Now: emergency access is refused.")
        person.language("de").assert_accessible()
        assert person.element("emergency-refused").is_selected()

        # organ donation given, then withdrawn: both in the history, newest first
        person.open("/consents").assert_accessible()
        person.tick("organ-yes").press("save-consent")
        person.tick("organ-no").press("save-consent")
        rows = person.element("consent-history").find_elements(By.CSS_SELECTOR, "tbody tr")
        assert [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows] == ["Nein", "Ja"]
        person.language("en").assert_accessible()
        person.sees("After my death, I am an organ donor: no.")

        # a DSP assistant: the insured number (POSTed), the name shown, confirmed; then removed
        person.open("/assistants").assert_accessible()

        def look_up() -> None:
            if _has(person, "cancel-assistant"):
                return
            person.open("/assistants").type("matricule", friend).press("lookup")
        await _until_shown(person, look_up, "confirm-assistant", within_s=45)
        assert friend not in person.path
        person.sees("Paul Reding").assert_accessible()
        person.press("confirm-assistant").sees("The DSP assistant was added.")
        assert "Paul Reding" in person.element("assistants").text
        person.language("de").assert_accessible()
        person.press("remove-assistant-1")
        assert _has(person, "no-assistants")
        person.type("matricule", "1234567890123").press("lookup")  # not a matricule
        assert person.element("matricule").get_attribute("aria-invalid") == "true"
        assert person.element("matricule-error").text

        # a document blocked, then shown again
        await _until_shown(person, lambda: person.open("/blocked-documents"), "block-doc-1", within_s=90)
        person.sees("Kein gesperrtes Dokument").assert_accessible()
        person.press("block-doc-1")
        assert "Hémogramme de contrôle" in person.element("blocked").text
        person.language("en").assert_accessible()
        person.press("unblock-doc-1")
        assert _has(person, "none-blocked") and "Hémogramme de contrôle" in person.element("visible").text

        # the presence password: shown once, on a printable wallet card (in English, then in German)
        secrets = []
        for lang in ("en", "de"):
            person.open("/passwords")
            if person.driver.find_element(By.TAG_NAME, "html").get_attribute("lang") != lang:
                person.language(lang)
            person.assert_accessible().press("generate-presence")
            secret = person.element("presence-password").text
            assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", secret), secret
            assert "Claire Hansen" in person.element("wallet-card").text
            assert person.element("print").get_attribute("data-print") is not None
            person.assert_accessible()
            secrets.append(secret)
        assert secrets[0] != secrets[1]
        person.open("/passwords")
        assert not any(s in person.text for s in secrets)  # shown once: never again
        person.sees("Sie haben ein Anwesenheitspasswort.")

        # the login password changed at the field's rules, then used
        person.type("password", "Clervaux-Abbey-77").type("new_password", "short").type(
            "new_password_again", "short").press("change-password")
        assert person.element("new_password").get_attribute("aria-invalid") == "true"
        person.sees("Das Passwort")  # the API's reason, in German, at the field
        new = "Moselle-Valley-2026"
        person.type("password", "Clervaux-Abbey-77").type("new_password", new).type(
            "new_password_again", new).press("change-password")
        assert person.path == "/passwords?done=password", person.text[:300]
        person.press("logout")
        await log_in(person, portal, patient, mail, password=new)
        _checked(person, *PAGES)


async def test_a_parent_switches_to_each_childs_record_and_back(portal: dict[str, Any], producer: AIOKafkaProducer,
                                                                unique: str) -> None:
    seed = int(unique[:4], 16)
    parent = fresh_matricule(date(1982, 11, 3), seed)
    children = {fresh_matricule(date(2013, 4, 21), seed): "Tom", fresh_matricule(date(2017, 9, 8), seed): "Zoé"}
    mail = await _patient(portal, producer, parent, f"parent.{unique}", given_name="Sophie", family_name="Muller")
    for n, (child, given) in enumerate(children.items()):
        kid = await onboard(portal, producer, child, f"kid{n}.{unique}", given_name=given, family_name="Muller",
                            guardians=[parent])
        try:
            async def added(kid: httpx.AsyncClient = kid) -> bool:
                reply = await kid.post("/v1/me/access/commands", json={"command": "add-assistant",
                                                                         "assistant": parent})
                if reply.status_code == 400 and reply.json()["reason"] == "unknown patient":
                    return False
                assert reply.status_code == 200, reply.text
                return True
            await eventually(added, within_s=90)
        finally:
            await kid.aclose()

    with chromium() as driver:
        person = Person(driver, portal["url"])
        await log_in(person, portal, parent, mail)
        person.open("/records").sees("Tom Muller", "Zoé Muller")
        person.assert_accessible()
        person.language("de").assert_accessible()
        person.language("en").assert_accessible()
        assert not _has(person, "back-to-mine")
        for n, given in enumerate(children.values(), start=1):
            person.open("/records").press(f"open-{n}")
            assert person.path == "/home"
            person.open("/records").sees(f"You are viewing the record of {given} Muller.")
            person.assert_accessible()
            person.open("/assistants").sees("Sophie Muller", "Parent of a minor")  # the child's DSP, not hers
            person.press("back-to-mine")
            assert person.path == "/home"
            person.open("/records")
            assert not _has(person, "back-to-mine") and "You are viewing" not in person.text
        _checked(person, "/records")


def test_the_settings_forms_refuse_a_post_without_its_csrf_token(portal: dict[str, Any]) -> None:
    forms = {"/professionals/add": {"professional_id": "DR-1"}, "/emergency": {"emergency": "refused"},
             "/consents": {"organ_donation": "yes"}, "/assistants/lookup": {"matricule": "1"},
             "/blocked-documents/block": {"document_id": "d"}, "/passwords/presence": {},
             "/passwords/login": {"password": "x"}, "/records/switch": {"patient": ""}}
    with httpx.Client(base_url=portal["url"]) as web:
        web.get("/login")  # the CSRF cookie, but no token in the forms below
        for path, form in forms.items():
            assert web.post(path, data=form).status_code == 403, path
