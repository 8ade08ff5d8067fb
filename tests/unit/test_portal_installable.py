"""The portal installs as an app (issue 27): a web app manifest with its icons and theme colour, every page naming
them, a service worker that keeps only the page saying the DSP needs a connection (nothing personal on the device:
every page stays Cache-Control: no-store), and the committed icons are what services.gateway.web.icons draws."""

from __future__ import annotations

import asyncio
import io
import re

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image, ImageChops

from services.gateway.web import app as portal_app
from services.gateway.web.icons import ICONS, STATIC, THEME, draw
from services.gateway.web.web import User, environment


class Client:
    """The portal's pages alone (these routes call no API), over ASGI."""

    def __init__(self) -> None:
        self.app = FastAPI()
        portal_app.install(self.app, secure=False, key=None)

    def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        async def ask() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://portal") as c:
                return await c.get(path, headers=headers)
        return asyncio.run(ask())


@pytest.fixture(scope="module")
def client() -> Client:
    return Client()


@pytest.mark.parametrize(("lang", "name"), [("fr", "Mon dossier de soins partagé"),
                                            ("de", "Meine gemeinsame Gesundheitsakte"),
                                            ("en", "My shared health record")])
def test_the_manifest_names_the_app_in_the_readers_language_with_its_icons(client: Client, lang: str,
                                                                         name: str) -> None:
    reply = client.get("/manifest.webmanifest", headers={"Accept-Language": lang})
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/manifest+json"
    manifest = reply.json()
    assert name in manifest["name"] and manifest["short_name"] == "myDSP" and manifest["lang"] == lang
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/" and manifest["scope"] == "/"
    assert manifest["theme_color"] == THEME
    sizes = {(i["sizes"], i["purpose"]) for i in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        served = client.get(icon["src"])
        assert served.status_code == 200 and served.headers["content-type"] == "image/png"
        assert f"{Image.open(io.BytesIO(served.content)).width}x" in icon["sizes"]


@pytest.mark.parametrize("name", sorted(ICONS))
def test_the_committed_icons_are_the_ones_drawn(name: str) -> None:
    size, maskable = ICONS[name]
    committed = Image.open(STATIC / name).convert("RGBA")
    assert committed.size == (size, size)
    difference = ImageChops.difference(committed, draw(size, maskable).convert("RGBA")).getbbox()
    assert difference is None, (f"{name} is not what services.gateway.web.icons draws: "
                                "run python -m services.gateway.web.icons")


def test_every_page_names_the_manifest_the_icons_and_the_theme_colour() -> None:
    page = environment("fr").get_template("error.html").render(csrf="t", path="/x", message="m", user=None)
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert f'<meta name="theme-color" content="{THEME}">' in page
    assert 'rel="apple-touch-icon"' in page and 'rel="icon"' in page


def test_the_service_worker_keeps_only_the_offline_page(client: Client) -> None:
    reply = client.get("/service-worker.js")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/javascript")
    assert reply.headers["cache-control"] == "no-cache"  # a new worker is picked up at the next visit
    kept = re.search(r"const KEPT = \[(.*?)\];", reply.text)
    assert kept is not None
    assert re.findall(r'"([^"]+)"', kept.group(1)) == ["/offline", "/static/portal.css", "/static/icon-192.png"]
    assert reply.text.count("cache.add") == 1 and "cache.put" not in reply.text  # nothing else is ever stored
    assert 'request.mode === "navigate"' in reply.text  # pages: from the network, the offline page only without one


def test_the_offline_page_says_the_dsp_needs_a_connection_in_three_languages(client: Client) -> None:
    reply = client.get("/offline", headers={"Accept-Language": "de"})
    assert reply.status_code == 200
    assert reply.headers["cache-control"] == "no-store" and "set-cookie" not in reply.headers
    assert "manifest-src 'self'" in reply.headers["content-security-policy"]
    for said in ("Votre DSP a besoin d'une connexion", "Ihre DSP braucht eine Internetverbindung",
                 "Your DSP needs an Internet connection", "no health data is kept on this device"):
        assert said in reply.text
    assert "<script" not in reply.text


def test_the_menu_is_one_disclosure_naming_the_current_page() -> None:
    page = environment("de").get_template("home.html").render(
        csrf="t", path="/documents", user=User(name="Claire Hansen"), documents=[], inbox={"items": [], "unread": 0},
        fields={}, types={}, statuses={}, changes={})
    menu = page[page.index('<details class="menu"'):page.index("</details>")]
    assert '<summary id="menu-button">' in menu and ">Menü<" in menu and ": Dokumente</span>" in menu
    assert menu.count('aria-current="page"') == 1 and 'href="/documents" aria-current="page"' in menu
