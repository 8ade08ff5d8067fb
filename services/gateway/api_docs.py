"""The portal API's interactive page (`/docs`, Swagger UI) served from the gateway itself: the page, Swagger UI's
script and styles (the files `fastapi-offline` ships, a maintained package that tracks Swagger UI's releases) and a
small script of ours that starts it — nothing from a CDN, no inline script, so the page runs under a Content
Security Policy that allows only this origin's scripts. `DSP_GATEWAY_API_DOCS=false` turns the page off (a
production portal needs no interactive page; `/openapi.json` stays, it is the contract)."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

SWAGGER = Path(fastapi_offline.__file__).parent / "static"
OURS = Path(__file__).parent / "static"
ASSETS = {"swagger-ui-bundle.js": SWAGGER, "swagger-ui.css": SWAGGER, "favicon.png": SWAGGER,
          "docs-init.js": OURS}
# Swagger UI sets style attributes from its script (React), hence 'unsafe-inline' for styles only; scripts come
# from this origin alone, and "Try it out" calls this origin alone.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="icon" href="/docs/assets/favicon.png"><link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head><body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script><script src="/docs/assets/docs-init.js"></script>
</body></html>
"""


def install(app: FastAPI) -> None:
    """`/docs` and its assets on `app` (created with `docs_url=None, redoc_url=None`)."""
    page = PAGE.format(title=app.title)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": CSP})

    @app.get("/docs/assets/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        folder = ASSETS.get(name)
        if folder is None:
            raise HTTPException(404, "no such asset")
        return FileResponse(folder / name, headers={"Cache-Control": "public, max-age=86400",
                                                    "Content-Security-Policy": CSP})
