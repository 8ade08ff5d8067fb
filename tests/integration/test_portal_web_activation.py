"""The activation wizard in a real Chromium, as the quick guide has it (issue 13): the registry publishes a person,
the letter's PDF gives the code, and a person at the browser accepts the terms, types matricule, code and the
captcha, is refused a weak password at the field (the policy ticking live), gets the one-time code by e-mail
(asking again too early is said at the field), skips LuxTrust, confirms, and logs in. Every wizard page axe-core
clean; the terms and step 1 in French, German and English. The forgotten-password page answers the same for
anyone. A guardian activating a child's account with the automatic check (ALTCHA, no image) is told it is a
minor's. The language chosen while logged in follows the person to a fresh browser."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from aiokafka import AIOKafkaProducer
from pypdf import PdfReader
from selenium.webdriver.common.by import By

from services.activation.service import NS
from tests.browser import Person, chromium
from tests.inprocess import file_ready
from tests.integration import test_gateway
from tests.integration.portal_web_support import PASSWORD, activated, codes, log_in
from tests.integration.test_activation import CODE
from tests.support import encode, eventually, make_matricule, person

portal = test_gateway.portal  # the same world (workers, sinks) as the gateway's tests, this module's own
GATEWAY_ENV = {"DSP_GATEWAY_SESSION_RATE_LIMIT_PER_MINUTE": "1000"}  # a browser walking fast
CAPTCHA = "KX7PA"  # FixedCaptcha's


async def _letter(portal: dict[str, Any], producer: AIOKafkaProducer, matricule: str, mail: str) -> str:
    """The registry publishes the person; the activation code printed on their letter (the PDF)."""
    body = person(matricule, f"reg-{mail.split('@')[0]}", email=mail)
    await producer.send_and_wait("registry.persons.v1", encode(body), key=matricule.encode())
    letter = portal["letters"] / f"activation-{uuid.uuid5(NS, f'letter:{matricule}:1')}.pdf"
    await eventually(lambda: file_ready(letter), within_s=120)
    return str(CODE.findall("".join(p.extract_text() for p in PdfReader(letter).pages))[0])


def _rule_ok(person: Person, rule: str) -> bool:
    item = person.driver.find_element(By.CSS_SELECTOR, f'#password-policy [data-rule="{rule}"]')
    return "ok" in (item.get_attribute("class") or "").split()


def _invalid(person: Person, element_id: str) -> str:
    """The error said at a field: the field is marked invalid and described by it."""
    box = person.element(element_id)
    assert box.get_attribute("aria-invalid") == "true", (element_id, person.text[:400])
    assert f"{element_id}-error" in (box.get_attribute("aria-describedby") or "").split()
    return str(person.element(f"{element_id}-error").text)


def _current_step(person: Person) -> str:
    return str(person.driver.find_element(By.CSS_SELECTOR, 'ol.steps li[aria-current="step"]').text)


async def test_a_person_activates_from_the_letter_and_logs_in(portal: dict[str, Any], producer: AIOKafkaProducer,
                                                              unique: str) -> None:
    serial = int(unique[:3], 16) % 1000
    matricule, mail = make_matricule(date(1979, 5, 23), serial), f"wizard.{unique}@example.lu"
    code = await _letter(portal, producer, matricule, mail)
    with chromium() as driver:
        person = Person(driver, portal["url"])
        person.open("/login").press("activate-link")
        assert person.path == "/activate"
        person.sees("Activer votre compte eSanté").assert_accessible()  # French: the browser asks for fr-LU
        person.tick("accept").press("accept-terms").sees("Étape 1 sur 5").assert_accessible()
        for lang, terms, step1 in (("de", "Ihr eSanté-Konto aktivieren", "Schritt 1 von 5"),
                                   ("en", "Activate your eSanté account", "Step 1 of 5"),
                                   ("fr", "Activer votre compte eSanté", "Étape 1 sur 5")):
            person.open("/activate").language(lang).sees(terms).assert_accessible()
            person.tick("accept").press("accept-terms").sees(step1).assert_accessible()
        assert _current_step(person) == "Code d'activation"
        person.screenshot("wizard-step1")

        # step 1: a mistyped code is said at the code's field; then the letter's code
        person.type("matricule", matricule).type("activation_code", "AAAA-BBBB-CCCC").type("captcha_answer", CAPTCHA)
        person.press("next-step")
        assert "ne correspondent à aucun courrier" in _invalid(person, "activation_code")
        person.assert_accessible()
        person.type("activation_code", code.lower()).type("captcha_answer", CAPTCHA).press("next-step")
        person.sees("Étape 2 sur 5")
        assert not driver.find_elements(By.ID, "minor")  # an adult's account

        # step 2: the policy ticks live; a password without a digit is refused at the field
        person.type("password", "abcdefghij")
        assert _rule_ok(person, "length") and _rule_ok(person, "letter") and not _rule_ok(person, "digit")
        person.assert_accessible()
        person.screenshot("wizard-password")
        person.type("password_confirm", "abcdefghij").press("set-password")
        assert _invalid(person, "password") == "le mot de passe doit comporter au moins un chiffre"
        person.assert_accessible()
        person.type("password", PASSWORD).type("password_confirm", PASSWORD + "x").press("set-password")
        assert "pas identiques" in _invalid(person, "password_confirm")
        person.type("password", PASSWORD).type("password_confirm", PASSWORD).press("set-password")

        # step 3: the code by e-mail; asking again at once is said at the code's field; the code from the mailbox
        person.sees("Étape 3 sur 5").assert_accessible()
        person.tick("channel-email").type("email", mail).press("choose-channel")
        person.sees("w***@example.lu", "Renvoyer le code").assert_accessible()
        person.press("resend-code")
        assert "une minute" in _invalid(person, "code")
        person.assert_accessible()

        async def mailed() -> str | None:
            found = codes(portal["smtp"], mail)
            return found[-1] if found else None
        person.type("code", await eventually(mailed, within_s=60)).press("verify-code")

        # step 4: LuxTrust is optional; step 5: confirm, then log in
        person.sees("Étape 4 sur 5").assert_accessible()
        assert _current_step(person) == "LuxTrust"
        person.press("skip-luxtrust").sees("Étape 5 sur 5").assert_accessible()
        person.press("confirm").sees("Votre activation est terminée").assert_accessible()
        person.press("to-login")
        assert person.path == "/login"
        await log_in(person, portal, matricule, mail)  # lands on /home

        # a forgotten password: the same answer whoever asks (here a matricule without an account)
        person.open("/password/forgot").assert_accessible()
        person.type("matricule", make_matricule(date(1950, 1, 2), serial)).type("captcha_answer", "WRONG")
        person.press("send-letter")
        assert "recopiez les caractères" in _invalid(person, "captcha_answer")
        person.type("captcha_answer", CAPTCHA).press("send-letter")
        assert "nouveau courrier d'activation est en route" in person.element("forgot-sent").text
        person.assert_accessible()
        for path in ("/activate", "/password/forgot"):
            assert (path, "fr") in person.checked


async def test_a_guardian_activates_a_childs_account_with_the_automatic_check(
        portal: dict[str, Any], producer: AIOKafkaProducer, unique: str) -> None:
    child, mail = make_matricule(date(2017, 4, 9), int(unique[:3], 16) % 1000), f"child.{unique}@example.lu"
    code = await _letter(portal, producer, child, mail)
    with chromium() as driver:
        person = Person(driver, portal["url"])
        person.open("/activate").tick("accept").press("accept-terms")
        person.type("matricule", child).type("activation_code", code)
        person.press("altcha-instead")  # cannot read the image: the browser proves it instead (no eyes needed)
        assert person.element("matricule").get_attribute("value") == child
        person.assert_accessible()
        person.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '.altcha[data-solved="true"]'))
        person.press("next-step").sees("Étape 2 sur 5")
        assert "avec le courrier de l'enfant" in person.element("minor").text
        person.assert_accessible()


async def test_the_language_chosen_follows_the_person_to_another_browser(
        portal: dict[str, Any], producer: AIOKafkaProducer, unique: str) -> None:
    matricule = make_matricule(date(1985, 11, 3), int(unique[:3], 16) % 1000)
    mail = await activated(portal, producer, matricule, f"lang.{unique}")
    with chromium() as driver:
        person = Person(driver, portal["url"])
        await log_in(person, portal, matricule, mail)
        person.open("/logout").language("de").sees("Von Ihrer DSP abmelden").assert_accessible()
        person.tick("everywhere").press("logout-now")
        assert person.path == "/login"
    with chromium() as driver:  # another browser: French at first (it asks for fr-LU)
        person = Person(driver, portal["url"])
        person.open("/login").sees("Connexion")
        await log_in(person, portal, matricule, mail)
        cookie = driver.get_cookie("dsp_lang")
        assert cookie and cookie["value"] == "de", cookie
        person.open("/logout").sees("Von Ihrer DSP abmelden")
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "de"
