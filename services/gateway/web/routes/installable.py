"""The portal as an app a phone installs (issue 27): its web app manifest (name, icons, theme colour, start page),
the service worker and the one page it keeps, which says the DSP needs a connection. The worker caches nothing else:
no page of the DSP, no document, no patient data (every page stays `Cache-Control: no-store`)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from ..app import STATIC, Current
from ..icons import BACKGROUND, ICONS, THEME
from ..web import CSP, environment

router = APIRouter(include_in_schema=False)


@router.get("/manifest.webmanifest")
async def manifest(p: Current) -> Response:
    """In the reader's language (the browser's, or the one chosen); nothing personal."""
    icons = [{"src": f"/static/{name}", "sizes": f"{size}x{size}", "type": "image/png",
              "purpose": "maskable" if maskable else "any"}
             for name, (size, maskable) in ICONS.items() if name.startswith("icon-")]
    body = {"name": p._("myDSP · My shared health record"), "short_name": "myDSP", "lang": p.lang,
            "description": p._("Your shared health record (DSP): your documents, your results, who reads them."),
            "start_url": "/", "scope": "/", "display": "standalone", "orientation": "any",
            "theme_color": THEME, "background_color": BACKGROUND, "icons": icons}
    return JSONResponse(body, media_type="application/manifest+json",
                        headers={"Cache-Control": "public, max-age=3600", "Vary": "Accept-Language, Cookie"})


@router.get("/service-worker.js")
async def service_worker() -> Response:
    """At the site's root, so that it may answer for every page (its scope); asked again at each visit."""
    return FileResponse(STATIC / "service-worker.js", media_type="text/javascript",
                        headers={"Cache-Control": "no-cache", "Content-Security-Policy": CSP})


@router.get("/offline")
async def offline() -> Response:
    """The page the worker shows without a connection: the same for everyone, in the three languages, no cookie."""
    body = environment("fr").get_template("offline.html").render()
    return HTMLResponse(body, headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store",
                                       "Referrer-Policy": "same-origin"})
