"""Every page of the portal on a phone and on a desktop (issue 27), in a real Chromium: a patient activates from her
letter and logs in on a 390 × 844 screen, walks every page of hers (home, documents, a search, a lab result with its
values and their history, the 'Ligne de vie', traceability, notifications, the upload form, every settings page, her
wallet card, the DSPs she assists and her child's, logout, the error pages), then a professional reads her record.

Each page is checked at 390 × 844 and at 1280 × 900: no horizontal scroll (`scrollWidth <= innerWidth`), axe-core
clean (WCAG 2.1 A/AA), and on the phone every control at least 44 × 44 CSS px (WCAG 2.5.5: buttons, fields, the
menu, a checkbox's label); text reflows at 320 CSS px too (WCAG 1.4.10: no horizontal scroll there either). The
widths measured are written to build/phone-widths.json; the screenshots to build/screenshots/ (phone-*, desktop-*),
and with DSP_UPDATE_SCREENSHOTS=1 the README's few to docs/screenshots/. Every problem found is listed at the end,
so one run measures every page."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from aiokafka import AIOKafkaProducer
from pypdf import PdfReader
from selenium.webdriver.common.by import By

from services.gateway.pro_assertion import sign
from tests.browser import DOCS_SHOTS, SHOTS, Person, chromium
from tests.integration import test_gateway
from tests.integration.portal_web_support import PASSWORD, codes
from tests.integration.test_gateway import onboard
from tests.integration.test_portal_web_activation import CAPTCHA, _letter
from tests.support import ROOT, encode, eventually, lab_result, make_matricule

portal = test_gateway.portal  # the same world (workers, sinks) as the gateway's tests, this module's own
GATEWAY_ENV = {"DSP_GATEWAY_SESSION_RATE_LIMIT_PER_MINUTE": "1000"}  # a browser walking fast, several calls a page

SIZES = (("phone", 390, 844), ("desktop", 1280, 900))
NARROWEST = 320  # WCAG 1.4.10: content reflows at 320 CSS px
TARGET = 44  # WCAG 2.5.5: touch targets of at least 44 × 44 CSS px
WIDTHS = ROOT / "build" / "phone-widths.json"
README_SHOTS = {"phone-home", "phone-menu", "phone-lab-result", "phone-timeline", "phone-values",
                "desktop-timeline", "desktop-lab-result"}

# the controls a finger must hit (a link inside a sentence is exempt, as WCAG 2.5.5 has it); a checkbox or a radio
# button is hit through its label, so the label's box counts
TARGETS_JS = """
const target = arguments[0], small = [];
const selector = 'button, select, textarea, input:not([type=hidden]), summary, a.button, .menu a, .pager a, '
  + '.actions a';
for (const el of document.querySelectorAll(selector)) {
  const style = getComputedStyle(el);
  let r = el.getBoundingClientRect();
  if (r.width <= 1 || r.height <= 1 || style.visibility === 'hidden' || el.closest('[hidden]')) continue;
  if (el.matches('input[type=checkbox], input[type=radio]')) {
    const label = el.closest('label') || (el.id && document.querySelector(`label[for="${el.id}"]`));
    if (label) {
      const l = label.getBoundingClientRect(), box = el.closest('.field.check') || label;
      const b = box.getBoundingClientRect();
      r = {width: Math.max(l.width, b.width), height: Math.max(l.height, b.height, r.height)};
    }
  }
  if (r.width < target - 0.5 || r.height < target - 0.5) {
    small.push(`${el.tagName.toLowerCase()}#${el.id || ''}.${el.className || ''} ` +
               `"${(el.innerText || el.value || el.name || '').trim().slice(0, 30)}" ` +
               `${Math.round(r.width)}x${Math.round(r.height)}`);
  }
}
return small;
"""


# the service worker's own script, its fetch handler called for a page while the network fails
OFFLINE_JS = """
const [path, source, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
(async () => {
  const listeners = {};
  const worker = {location: self.location, addEventListener: (type, f) => { listeners[type] = f; }};
  new Function('self', 'fetch', 'caches', source)(worker, () => Promise.reject(new TypeError('offline')), caches);
  let answer = null;
  listeners.fetch({request: {method: 'GET', mode: 'navigate', url: location.origin + path},
                   respondWith: (promise) => { answer = promise; }});
  const reply = await answer;
  done(reply ? await reply.text() : 'no answer');
})().catch((e) => done('error: ' + e + ' ' + e.stack));
"""
SHOWN_JS = """
const el = document.querySelector(arguments[0]);
const box = el && el.getBoundingClientRect();
return !!el && box.width > 0 && box.height > 0 && el.checkVisibility();
"""


@dataclass
class Walk:
    """Checks each page it is shown at every size; keeps the widths and every problem found."""

    person: Person
    widths: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def size(self, width: int, height: int) -> None:
        self.person.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def measure(self) -> tuple[int, int]:
        found = self.person.driver.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]")
        return int(found[0]), int(found[1])

    def shot(self, name: str, width: int) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        height = int(self.person.driver.execute_script("return document.documentElement.scrollHeight"))
        self.size(width, min(max(height, 600), 2400))
        path = SHOTS / f"{name}.png"
        self.person.driver.save_screenshot(str(path))
        if os.environ.get("DSP_UPDATE_SCREENSHOTS") == "1" and name in README_SHOTS:
            DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_SHOTS / path.name)

    def check(self, name: str) -> Walk:
        """This page at 390 × 844 and 1280 × 900 (and its width at 320), then back to the phone."""
        widths = self.widths.setdefault(name, {})
        for label, width, height in SIZES:
            self.size(width, height)
            scroll, inner = self.measure()
            widths[label] = scroll
            if scroll > inner:
                self.problems.append(f"{name} at {label}: {scroll} px wide in a {inner} px window")
            for v in self.person.accessible():
                self.problems.append(f"{name} at {label}: axe {v['id']} ({v['impact']}): {v['nodes'][:3]}")
            if label == "phone":
                small = self.person.driver.execute_script(TARGETS_JS, TARGET)
                if small:
                    self.problems.append(f"{name} at {label}: targets under {TARGET} px: {small[:6]}")
            self.shot(f"{label}-{name}", width)
        self.size(NARROWEST, 640)
        scroll, inner = self.measure()
        widths[str(NARROWEST)] = scroll
        if scroll > inner:
            self.problems.append(f"{name} at {NARROWEST}: {scroll} px wide in a {inner} px window")
        self.size(*SIZES[0][1:])
        return self

    def expect(self, holds: bool, said: str) -> None:
        """A check the walk goes on after (every problem is listed at the end)."""
        if not holds:
            self.problems.append(said)

    def save(self) -> None:
        WIDTHS.parent.mkdir(parents=True, exist_ok=True)
        WIDTHS.write_text(json.dumps(self.widths, indent=1, sort_keys=True) + "\n")


async def _publish(producer: AIOKafkaProducer, topic: str, key: str, body: dict[str, Any]) -> None:
    await producer.send_and_wait(topic, encode(body), key=key.encode())


async def _reload_until(person: Person, path: str, text: str, within_s: float = 90) -> Person:
    async def shown() -> bool:
        person.open(path)
        if text in person.text:
            return True
        await asyncio.sleep(1.5)
        return False
    await eventually(shown, within_s=within_s, every_s=0.1)
    return person


async def test_every_page_fits_a_phone_and_a_desktop(portal: dict[str, Any], producer: AIOKafkaProducer,
                                                     unique: str) -> None:
    serial = int(unique[:3], 16) % 1000
    matricule, child = make_matricule(date(1981, 4, 17), serial), make_matricule(date(2015, 2, 3), serial)
    mail = f"phone.{unique}@example.lu"
    lab, prescriber, dr = f"LAB-{unique}", f"PRX-{unique}", f"PRO-{unique}"
    for pro, given, family in ((prescriber, "Marc", f"Schmit{unique}"), (dr, "Luc", f"Kremer{unique}")):
        await _publish(producer, "directory.professionals.v1", pro, {
            "message_id": f"dir-{pro}", "professional_id": pro, "given_name": given, "family_name": family,
            "profession": "Médecin", "specialty": "Médecine générale"})
    # three blood counts over a year (haemoglobin moving, once low), a lipid panel, and a correction
    for n, (day, haemoglobin) in enumerate((("2025-12-02", 13.1), ("2026-04-14", 11.4), ("2026-10-05", 12.6)), 1):
        body = lab_result(lab, f"R{n}", f"{unique}-r{n}", patient_matricule=matricule, prescriber_id=prescriber,
                          title=f"Hémogramme {day}", collected_at=f"{day}T08:00:00Z", reported_at=f"{day}T12:00:00Z")
        body["observations"][0] = {**body["observations"][0], "value": haemoglobin,
                                   "interpretation": "L" if haemoglobin < 12 else "N"}
        await _publish(producer, "lab.results.v1", f"{lab}:R{n}", body)
    corrected = lab_result(lab, "R3", f"{unique}-r3b", patient_matricule=matricule, prescriber_id=prescriber,
                           title="Hémogramme 2026-10-05 (corrigé)", status="corrected",
                           collected_at="2026-10-05T08:00:00Z", reported_at="2026-10-06T09:00:00Z")
    corrected["observations"][0] = {**corrected["observations"][0], "value": 12.4}
    await _publish(producer, "lab.results.v1", f"{lab}:R3", corrected)
    await _publish(producer, "lab.results.v1", f"{lab}:R4", lab_result(
        lab, "R4", f"{unique}-r4", patient_matricule=matricule, title="Bilan lipidique",
        collected_at="2026-11-10T08:00:00Z", reported_at="2026-11-10T15:00:00Z",
        observations=[{"loinc": "2093-3", "display": "Cholestérol total", "value": 5.6, "unit": "mmol/L",
                       "reference_high": 5.2, "interpretation": "H"}]))
    code = await _letter(portal, producer, matricule, mail)

    with chromium() as driver:
        person = Person(driver, portal["url"])
        walk = Walk(person)
        walk.size(*SIZES[0][1:])
        try:
            await _walk(walk, portal, producer, matricule, child, mail, code, dr, lab, unique)
        finally:
            walk.save()
    assert not walk.problems, "\n".join(walk.problems)


async def _walk(walk: Walk, portal: dict[str, Any], producer: AIOKafkaProducer, matricule: str, child: str,
                mail: str, code: str, dr: str, lab: str, unique: str) -> None:
    person, driver = walk.person, walk.person.driver

    # activation, from the letter, on the phone: every step of the wizard
    person.open("/login")
    walk.check("login")
    person.press("activate-link")
    walk.check("activate-terms")
    person.tick("accept").press("accept-terms").sees("Étape 1 sur 5")
    walk.check("activate-code")
    person.type("matricule", matricule).type("activation_code", code).type("captcha_answer", CAPTCHA)
    person.press("next-step").sees("Étape 2 sur 5")
    walk.check("activate-password")
    person.type("password", PASSWORD).type("password_confirm", PASSWORD).press("set-password")
    person.sees("Étape 3 sur 5")
    walk.check("activate-channel")
    person.tick("channel-email").type("email", mail).press("choose-channel")
    walk.check("activate-otp")

    async def mailed() -> str | None:
        found = codes(portal["smtp"], mail)
        return found[-1] if found else None
    person.type("code", await eventually(mailed, within_s=60)).press("verify-code").sees("Étape 4 sur 5")
    walk.check("activate-luxtrust")
    person.press("skip-luxtrust").sees("Étape 5 sur 5")
    walk.check("activate-confirm")
    person.press("confirm").sees("Votre activation est terminée")
    walk.check("activate-done")

    # login: the one-time code's page
    before = set(codes(portal["smtp"], mail))
    person.press("to-login").type("matricule", matricule).type("password", PASSWORD)
    person.tick("channel-email").press("login")
    walk.check("login-code")

    async def fresh() -> str | None:
        new = [c for c in codes(portal["smtp"], mail) if c not in before]
        return new[-1] if new else None
    person.type("code", await eventually(fresh, within_s=60)).press("verify")
    assert person.path.startswith("/home"), person.text[:300]

    # her pages
    await _reload_until(person, "/home", "Bilan lipidique")
    await _reload_until(person, "/home", "Bonjour, Marie")
    walk.check("home")
    # the menu: one button (a disclosure, no script) naming the current page, that opens the list
    person.open("/documents")
    button = person.element("menu-button")
    walk.expect(button.text == "Menu: Documents", f"the menu button says {button.text!r}")
    walk.expect(not person.driver.find_element(By.CSS_SELECTOR, '#menu a[href="/audit"]').is_displayed(),
                "the menu is open on a phone before its button is pressed")
    button.click()
    current = person.driver.find_element(By.CSS_SELECTOR, '#menu a[aria-current="page"]')
    walk.expect(current.is_displayed() and (current.get_attribute("href") or "").endswith("/documents"),
                "the menu's current page is not shown once open")
    menu_height = person.driver.execute_script("return document.getElementById('menu').offsetHeight")
    walk.shot("phone-menu", SIZES[0][1])
    walk.size(*SIZES[0][1:])
    button.click()
    top = person.driver.execute_script("return document.querySelector('main h1').getBoundingClientRect().top")
    walk.expect(top < 200, f"the header and the closed menu take {top} px before the page's title")
    walk.size(1280, 900)
    walk.expect(person.driver.execute_script(SHOWN_JS, '#menu a[href="/audit"]'),  # (selenium's is_displayed
                "the menu is not shown on a wide screen")                      # says no inside a closed <details>)
    walk.expect(not button.is_displayed(), "the menu button is shown on a wide screen")
    walk.size(*SIZES[0][1:])
    walk.expect(menu_height > 11 * 44, f"the open menu is {menu_height} px high")
    walk.check("documents")
    person.type("q", "hémogramme").press("search").sees("Documents trouvés")
    walk.check("search")
    person.open("/documents")
    driver.find_element(By.PARTIAL_LINK_TEXT, "(corrigé)").click()
    person.sees("Historique des versions")
    document_path = person.path
    walk.expect(person.element("laboratory").text == f"Laboratoire {lab}", "the laboratory is not named")
    walk.expect(person.element("prescriber").text == f"Marc Schmit{unique}",  # the directory's name, not the id
                f"the prescriber is {person.element('prescriber').text!r}")
    # haemoglobin has earlier results: its chart (the range as a band, the low one a ▼) and its table
    figure = person.element("history-718-7-figure")
    walk.expect(len(figure.find_elements(By.CSS_SELECTOR, "svg[role=img] .point")) == 3, "not 3 points")
    walk.expect(len(figure.find_elements(By.CSS_SELECTOR, "svg .point.out")) == 1, "not 1 point out of range")
    walk.expect(bool(figure.find_elements(By.CSS_SELECTOR, "svg rect.band")), "no range band")
    walk.expect("3 résultats en g/dL" in figure.text, f"the chart says {figure.text!r}")
    walk.expect(not driver.find_elements(By.ID, "history-2093-3-figure"), "cholesterol charted on a blood count")
    walk.check("lab-result")
    person.press("all-718-7")
    assert person.path == "/documents/values/718-7"
    rows = driver.find_elements(By.CSS_SELECTOR, "#history tbody tr")
    shown = [r.find_element(By.TAG_NAME, "td").text for r in rows]
    walk.expect(shown == ["13,1 g/dL", "11,4 g/dL", "12,4 g/dL"], f"the values page lists {shown}")
    walk.expect(len(rows) == 3 and "Bas" in rows[1].text, "the low value is not flagged in words")
    walk.check("values")
    person.open("/timeline?start=2025-11-01&end=2026-11-30")
    marks = driver.find_elements(By.CSS_SELECTOR, "svg.timeline-chart.narrow a.mark")
    assert len(marks) == 4, len(marks)
    walk.expect(all(m.is_displayed() for m in marks), "a timeline mark is not shown")
    walk.expect(document_path in {m.get_dom_attribute("href") for m in marks}, "no mark links to the lab result")
    marks[-1].click()  # the last one: the lipid panel, of November
    person.sees("Bilan lipidique")
    person.open("/timeline?start=2025-11-01&end=2026-11-30")
    walk.expect("Hémogramme 2025-12-02" in person.element("timeline-table").text, "the timeline's list")
    walk.check("timeline")
    person.open("/audit")
    walk.check("traceability")
    await _reload_until(person, "/notifications", "Non lu")
    walk.check("notifications")
    person.open("/documents/upload")
    walk.check("upload")
    for page in ("professionals", "emergency", "consents", "assistants", "blocked-documents", "passwords"):
        person.open(f"/{page}")
        walk.check(page)
    person.press("generate-presence")
    presence = person.element("presence-password").text
    walk.check("wallet")
    # printed, the wallet card is one card-sized page (ID-1: 85.6 × 53.98 mm = 242.6 × 153 pt)
    pdf = driver.execute_cdp_cmd("Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True})
    pages = PdfReader(io.BytesIO(base64.b64decode(pdf["data"]))).pages
    box = pages[0].mediabox
    walk.expect(len(pages) == 1 and abs(float(box.width) - 242.6) < 2 and abs(float(box.height) - 153.0) < 2,
                f"the wallet card prints on {len(pages)} page(s) of {box.width} x {box.height} pt")
    walk.expect(presence in pages[0].extract_text(), "the printed card lacks the password")

    # her child's DSP, which she assists (the banner saying whose record it is)
    kid = await onboard(portal, producer, child, f"kid.{unique}", given_name="Tom", family_name="Weber",
                        guardians=[matricule])
    try:
        async def added() -> bool:
            reply = await kid.post("/v1/me/access/commands", json={"command": "add-assistant",
                                                                     "assistant": matricule})
            if reply.status_code == 400 and reply.json()["reason"] == "unknown patient":
                return False
            assert reply.status_code == 200, reply.text
            return True
        await eventually(added, within_s=90)
    finally:
        await kid.aclose()
    await _reload_until(person, "/records", "Tom Weber")
    walk.check("records")
    person.press("open-1")
    walk.check("home-acting")
    person.press("back-to-mine")

    # errors, then logout; a forgotten password
    person.open("/no-such-page")
    walk.check("error-404")
    person.open("/documents/no-such-document")
    walk.check("error-document")
    person.open("/logout")
    walk.check("logout")
    person.press("logout-now")
    person.open("/password/forgot")
    walk.check("forgot")

    # a professional, with her presence password, on the phone
    person.open("/pro/login")
    walk.check("pro-login")

    async def logged_in() -> bool:  # once the directory lists the professional
        person.type("assertion", sign(portal["idp"], dr, int(time.time()) + 300)).press("pro-login")
        return person.path == "/pro"
    await eventually(logged_in, within_s=60, every_s=1)
    walk.check("pro-home")
    person.type("presence-patient", matricule).type("presence-password", presence).press("redeem")
    person.press("open-1").sees("Bilan lipidique")
    walk.check("pro-patient")
    driver.find_element(By.PARTIAL_LINK_TEXT, "(corrigé)").click()
    person.sees("Hémoglobine")
    walk.expect(person.element("prescriber").text == f"Marc Schmit{unique}", "the professional's prescriber")
    walk.expect("3 résultats en g/dL" in person.element("history-718-7-figure").text,  # the same chart as hers
                "the professional's chart")
    walk.check("pro-document")

    # installable: the service worker keeps only the offline page (and its style sheet and icon)
    person.open("/pro")
    driver.execute_async_script("const done = arguments[arguments.length - 1];"
                                "navigator.serviceWorker.ready.then(() => done(true));")
    kept = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "caches.keys().then(keys => Promise.all(keys.map(k => caches.open(k).then(c => c.keys()))))"
        ".then(lists => done(lists.flat().map(r => new URL(r.url).pathname)));")
    walk.expect(sorted(kept) == ["/offline", "/static/icon-192.png", "/static/portal.css"], f"the worker keeps {kept}")
    # without a network, the worker answers a page with the offline page it kept (its handler run with a fetch that
    # fails, on this browser's real cache: Chromium's offline emulation does not reach a service worker's fetches)
    walk.expect(driver.execute_script("return !!navigator.serviceWorker.controller"), "no worker answers the page")
    person.open("/static/icon-192.png")  # a page of the site without the CSP that forbids the test's `new Function`
    worker = (ROOT / "services" / "gateway" / "web" / "static" / "service-worker.js").read_text()
    said = driver.execute_async_script(OFFLINE_JS, document_path, worker)
    walk.expect("Votre DSP a besoin d'une connexion" in said and "Hémoglobine" not in said, f"offline: {said[:300]}")
    person.open("/offline")
    walk.check("offline")
