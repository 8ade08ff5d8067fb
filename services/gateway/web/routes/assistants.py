"""The DSP assistants of a DSP's settings (leaflet 000) — look a person up by their matricule, add them, remove them,
keep a link that ended at one's majority — and 'My patient records', the other DSPs one assists and the switch to
one of them (or back to one's own). Changes are access commands sent through the portal API, which decides; its
refusal is shown in the reader's language. A matricule is always POSTed, never in a URL: the DSP acted on is kept in
a sealed cookie (`Page.act_for`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from schemas.fields import rfc3339

from .. import web
from ..api import Problem
from ..app import Current
from ..web import Page, field
from ._forms import _command, _notice, settings_page

router = APIRouter(include_in_schema=False)


# --- DSP assistants -------------------------------------------------------------------------------------------------

async def _assistants(p: Page, status: int = 200, **values: Any) -> Response:
    """`now` tells the links that have ended (a minor's, at majority: only the adult patient keeps one, "Keep")."""
    return await settings_page(p, "assistants.html", status, now=rfc3339(datetime.now(UTC)), **values)


@router.get("/assistants")
async def assistants(p: Current) -> Response:
    return await _assistants(p, notice=_notice(p))


@router.post("/assistants/lookup")
async def lookup(p: Current) -> Response:
    form = await p.form()
    matricule = field(form, "matricule").replace(" ", "")
    if not (matricule.isdigit() and len(matricule) == 13):
        return await _assistants(p, 400, matricule=matricule, fields={
            "matricule": p._("Type the 13 digits of the insured person's number.")})
    try:
        found = await p.api.post("/v1/me/assistants/lookup", {"matricule": matricule})
    except Problem as refused:
        if refused.status == 401 or refused.status >= 500:
            raise
        said = p._("Type the 13 digits of the insured person's number.") if refused.status == 422 \
            else p.refusal(refused)
        return await _assistants(p, 400 if refused.status != 404 else 404, matricule=matricule,
                                 fields={"matricule": said})
    return await _assistants(p, matricule=matricule, found=found)


@router.post("/assistants/add")
async def add_assistant(p: Current) -> Response:
    form = await p.form()
    refused = await _command(p, command="add-assistant", assistant=field(form, "matricule"))
    if refused:
        return await _assistants(p, 400, error=refused)
    return p.redirect("/assistants?done=assistant-added")


@router.post("/assistants/confirm")
async def confirm_assistant(p: Current) -> Response:
    """The adult patient keeps a link made while she was a minor (access refuses anyone else, and a minor)."""
    form = await p.form()
    refused = await _command(p, command="confirm-assistant", assistant=field(form, "matricule"))
    if refused:
        return await _assistants(p, 400, error=refused)
    return p.redirect("/assistants?done=assistant-kept")


@router.post("/assistants/remove")
async def remove_assistant(p: Current) -> Response:
    form = await p.form()
    refused = await _command(p, command="remove-assistant", assistant=field(form, "matricule"))
    if refused:
        return await _assistants(p, 400, error=refused)
    return p.redirect("/assistants?done=assistant-removed")


# --- Other patient records ------------------------------------------------------------------------------------------

async def _assisted(p: Page) -> list[dict[str, Any]]:
    page: dict[str, Any] = await p.api.get("/v1/me/assisted", limit=100)
    return list(page["items"])


@router.get("/records")
async def records(p: Current) -> Response:
    user, _unused = await web.patient(p)
    return p.render("records.html", user=user, assisted=await _assisted(p), acting=p.acting)


@router.post("/records/switch")
async def switch(p: Current) -> Response:
    form = await p.form()
    chosen = field(form, "patient")
    if not chosen:
        p.act_for(None)
        return p.redirect("/home")
    if chosen not in {a["patient"] for a in await _assisted(p)}:
        user, _unused = await web.patient(p)
        return p.render("records.html", 403, user=user, assisted=await _assisted(p), acting=p.acting,
                        error=p._("not the owner nor a DSP assistant of this record"))
    p.act_for(chosen)
    return p.redirect("/home")
