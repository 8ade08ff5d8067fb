"""The portal's start page and login in a real Chromium: every language, axe-core clean, a wrong password said in
the reader's language at the form, a form without its CSRF token refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.browser import Person, chromium
from tests.integration import test_gateway

portal = test_gateway.portal  # the same world (workers, sinks) as the gateway's tests, this module's own


@pytest.fixture(scope="module")
def person(portal: dict[str, Any]) -> Iterator[Person]:
    with chromium() as driver:
        yield Person(driver, portal["url"])


def test_the_start_page_speaks_three_languages_and_refuses_a_wrong_password(person: Person) -> None:
    person.open("/")
    person.sees("Connexion")  # French by default (the browser asks for fr-LU)
    person.assert_accessible()
    person.type("matricule", "1990021412345").type("password", "not-the-password-1").press("login")
    assert person.element("page-error").text
    for lang, word in (("de", "Bei Ihrer DSP anmelden"), ("en", "Log in to your DSP"), ("fr", "Connexion")):
        person.language(lang).sees(word)
        person.assert_accessible()


def test_a_form_without_its_csrf_token_is_refused(portal: dict[str, Any]) -> None:
    with httpx.Client(base_url=portal["url"]) as web:
        page = web.get("/login")
        assert page.status_code == 200 and "no-store" in page.headers["cache-control"]
        assert "'unsafe-inline'" not in page.headers["content-security-policy"]
        forged = web.post("/login", data={"matricule": "1990021412345", "password": "x"})
        assert forged.status_code == 403


def test_the_portal_refuses_what_a_stranger_forges(portal: dict[str, Any]) -> None:
    """An open redirect through the language switcher, a forged 'DSP acted on' cookie, a portal address that does
    not exist, a form address reloaded: none gets anywhere, and each answer is a page, not the API's JSON."""
    with httpx.Client(base_url=portal["url"]) as web:
        page = web.get("/login")
        token = page.cookies["dsp_csrf"]
        for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
            moved = web.post("/language", data={"csrf": token, "lang": "en", "next": target},
                             headers={"Origin": portal["url"]})
            assert moved.status_code == 303 and moved.headers["location"] == "/", (target, moved.headers)
        cross = web.post("/language", data={"csrf": token, "lang": "en", "next": "/"},
                         headers={"Origin": "https://evil.example"})
        assert cross.status_code == 403  # the right token, but sent from another site
        web.cookies.set("dsp_acting", "bm90LXNlYWxlZA==")  # not sealed by this gateway: ignored, no 500
        assert web.get("/login").status_code == 200
        missing = web.get("/no-such-page")
        assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
        assert "'unsafe-inline'" not in missing.headers["content-security-policy"]
        reloaded = web.get("/activate/password")  # a form's address opened again
        assert reloaded.status_code == 303 and reloaded.headers["location"] == "/activate"
        assert web.get("/v1/no-such-route").headers["content-type"] == "application/problem+json"


def test_the_api_page_runs_from_the_gateways_own_files_under_a_csp(portal: dict[str, Any]) -> None:
    """`/docs` (Swagger UI) loads nothing from another origin and runs with no inline script: the page renders the
    API's operations in a real browser, and the browser reports no Content Security Policy violation."""
    with httpx.Client(base_url=portal["url"]) as web:
        page = web.get("/docs")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        assert "http" not in page.text.replace(portal["url"], "")  # every asset from this origin
        assert web.get("/redoc").status_code == 404  # FastAPI's other page loaded a CDN: off
    with chromium() as driver:
        driver.get(portal["url"] + "/docs")
        Person(driver, portal["url"]).sees("dsp-mesh portal API", "/v1/login")
        refused = [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]
        assert refused == []
