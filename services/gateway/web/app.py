"""Wiring: the portal's pages at the root of the gateway's address (the API stays under `/v1`), its static files,
and the answers to a refusal — the API's 401 sends the person to the login page, a missing CSRF token is a 403
page, any other refusal a page that says why, in the reader's language."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

import nacl.utils
from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, Response
from nacl.secret import SecretBox
from starlette.exceptions import HTTPException

from .api import Problem
from .web import Forbidden, Page

STATIC = Path(__file__).parent / "static"


def page(request: Request) -> Page:
    return Page(request, request.app.state.portal_secure, request.app.state.portal_box)


Current = Annotated[Page, Depends(page)]


def install(app: FastAPI, secure: bool, key: bytes | None) -> None:
    """`key`: seals the cookie naming the DSP acted on (None: a random key, good for one process only)."""
    from .routes import (
        account,
        activation,
        assistants,
        choices,
        documents,
        installable,
        journal,
        passwords,
        pro,
        pro_records,
        professionals,
        upload,
    )

    app.state.portal_secure = secure
    app.state.portal_box = SecretBox(hashlib.sha256(b"dsp-portal-acting\x1f" + key).digest() if key
                                     else nacl.utils.random(SecretBox.KEY_SIZE))
    # the routers are tried in this order: upload's /documents/upload must come before /documents/{document_id}
    for module in (account, installable, activation, journal, upload, documents, professionals, choices, assistants,
                   passwords, pro, pro_records):
        app.include_router(module.router)

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        path = (STATIC / name).resolve()
        if path.parent != STATIC.resolve() or not path.is_file():
            raise HTTPException(404, "no such file")
        return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})

    async def problem(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, Problem):
            raise exc
        p = page(request)
        if exc.status == 401:
            return p.redirect("/pro/login" if request.url.path.startswith("/pro") else "/login")
        return p.render("error.html", exc.status if exc.status < 500 else 503, message=p.refusal(exc))

    async def forbidden(request: Request, exc: Exception) -> Response:
        p = page(request)
        return p.render("error.html", 403, message=p._("This form has expired or comes from another site. "
                                                        "Go back, reload the page and send it again."))

    api_refusal = app.exception_handlers.get(HTTPException)  # the API's problem+json answers (problems.install)

    async def refused(request: Request, exc: Exception) -> Response:
        """A portal address that does not exist (404) or a page opened the wrong way (405): a page, not JSON."""
        portal_path = not request.url.path.startswith(("/v1/", "/health/", "/metrics", "/openapi", "/docs"))
        if portal_path and isinstance(exc, HTTPException) and exc.status_code in (404, 405):
            p = page(request)
            if exc.status_code == 405 and request.method == "GET":  # a form's address reloaded: back to its page
                parts = request.url.path.strip("/").split("/")
                return p.redirect(f"/{parts[0]}" if len(parts) > 1 else "/")
            return p.render("error.html", exc.status_code, message=p._("This page does not exist."))
        if api_refusal is None:
            raise exc
        answer: Response = await api_refusal(request, exc)  # type: ignore[misc]
        return answer

    app.add_exception_handler(Problem, problem)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(HTTPException, refused)
