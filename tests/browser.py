"""A person at a browser: Debian's Chromium driven by selenium, clicking and typing, and axe-core (the npm package,
pinned by version and integrity, fetched once into ~/.cache/dsp-mesh/npm) injected into every page checked.

Screenshots go to build/screenshots/; with DSP_UPDATE_SCREENSHOTS=1 also to docs/screenshots/ (the README's)."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import tarfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.support import ROOT

AXE = ("4.14.1", "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==")
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dsp-mesh" / "npm"
SHOTS = ROOT / "build" / "screenshots"
DOCS_SHOTS = ROOT / "docs" / "screenshots"


@cache
def axe_source() -> str:
    """axe-core's axe.min.js from the npm registry's tarball, checked against its published integrity."""
    version, integrity = AXE
    tarball = CACHE / f"axe-core-{version}.tgz"
    if not tarball.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        url = f"https://registry.npmjs.org/axe-core/-/axe-core-{version}.tgz"
        with urllib.request.urlopen(url, timeout=60) as reply:
            data = reply.read()
        part = tarball.with_suffix(f".part-{os.getpid()}")  # parallel test workers may fetch it at the same time
        part.write_bytes(data)
        part.replace(tarball)
    data = tarball.read_bytes()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    assert digest == integrity, f"{tarball} does not match axe-core {version}'s integrity; delete it"
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.extractfile("package/axe.min.js")
        assert member is not None
        return member.read().decode()


@contextmanager
def chromium(width: int = 1280, height: int = 1000) -> Iterator[webdriver.Chrome]:
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert binary and driver, "Debian's chromium and chromium-driver are installed by `make test` (make browser)"
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}",
                 "--disable-dev-shm-usage", "--lang=fr-LU"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": "fr-LU,fr"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # CSP violations are reported there
    chrome = webdriver.Chrome(options=options, service=Service(driver))
    try:
        yield chrome
    finally:
        chrome.quit()


class Person:
    """Someone at the browser: opens pages, types into labelled fields, presses buttons, reads the page."""

    def __init__(self, driver: webdriver.Chrome, base: str, wait_s: float = 60) -> None:
        self.driver, self.base = driver, base
        self.wait = WebDriverWait(driver, wait_s, poll_frequency=0.2)
        self.checked: set[tuple[str, str]] = set()  # (path, language) axe-checked

    def open(self, path: str) -> Person:
        self.driver.get(self.base + path)
        return self

    def element(self, element_id: str) -> WebElement:
        return self.wait.until(lambda d: d.find_element(By.ID, element_id))

    def type(self, element_id: str, text: str) -> Person:
        box = self.element(element_id)
        box.clear()
        box.send_keys(text)
        return self

    def choose(self, element_id: str, value: str) -> Person:
        Select(self.element(element_id)).select_by_value(value)
        return self

    def tick(self, element_id: str) -> Person:
        box = self.element(element_id)
        if not box.is_selected():
            box.click()
        return self

    def press(self, element_id: str) -> Person:
        """Click a button or link by id, and wait for the next page when it navigates."""
        old = self.driver.find_element(By.TAG_NAME, "html")
        self.element(element_id).click()
        try:
            WebDriverWait(self.driver, 30, poll_frequency=0.1).until(lambda d: _stale(old))
        except Exception:  # noqa: BLE001, S110 - a button that does not navigate (a script's) is fine
            pass
        return self

    @property
    def text(self) -> str:
        return str(self.driver.find_element(By.TAG_NAME, "body").text)

    @property
    def path(self) -> str:
        url = str(self.driver.current_url)
        return url[len(self.base):] if url.startswith(self.base) else url

    def sees(self, *texts: str, within_s: float = 30) -> Person:
        WebDriverWait(self.driver, within_s, poll_frequency=0.3).until(
            lambda d: all(t in d.find_element(By.TAG_NAME, "body").text for t in texts),
            message=f"not all of {texts!r} on {self.path}")
        return self

    def language(self, lang: str) -> Person:
        """The switcher in the header, as a person uses it (the page comes back in that language)."""
        old = self.driver.find_element(By.TAG_NAME, "html")
        Select(self.element("lang-choice")).select_by_value(lang)  # the script sends the form at once
        WebDriverWait(self.driver, 30).until(lambda d: _stale(old))
        shown = self.driver.find_element(By.TAG_NAME, "html").get_attribute("lang")
        assert shown == lang, f"asked for {lang}, {self.path} is in {shown}: {self.text[:300]}"
        return self

    def accessible(self) -> list[dict[str, Any]]:
        """axe-core's serious and critical violations on this page (WCAG 2.1 A/AA rules), each with its nodes."""
        self.driver.execute_script(axe_source())
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
            ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.map(n => n.target.join(' '))})))).catch(e => done([{id: 'axe-error', impact:"
            " 'critical', help: String(e), nodes: []}]));")
        lang = self.driver.find_element(By.TAG_NAME, "html").get_attribute("lang") or ""
        self.checked.add((self.path.split("?")[0], lang))
        return [v for v in result if v["impact"] in ("serious", "critical")]

    def assert_accessible(self) -> Person:
        found = self.accessible()
        assert not found, f"axe-core on {self.path}: {found}"
        return self

    def screenshot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        shot = SHOTS / f"{name}.png"
        height = self.driver.execute_script("return document.body.scrollHeight")
        width = self.driver.get_window_size()["width"]
        self.driver.set_window_size(width, min(max(int(height) + 120, 700), 2400))
        self.driver.save_screenshot(str(shot))
        if os.environ.get("DSP_UPDATE_SCREENSHOTS") == "1":
            DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, DOCS_SHOTS / shot.name)
        return shot


def _stale(element: WebElement) -> bool:
    try:
        element.is_enabled()
    except Exception:  # noqa: BLE001 - StaleElementReferenceException: the page was replaced
        return True
    return False
