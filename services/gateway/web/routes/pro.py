"""The health professional's own pages: log in with the identity provider's signed assertion (as a SAML POST binding
would bring it), logout, my patients and by which grant (the next page of the list is a POST: its cursor holds a
matricule), a patient chosen, a presence password redeemed and the glass broken with a justification. The patient
worked on is chosen with a POST and kept in a sealed cookie (`Page.pro_patient`): a matricule never goes in a URL. The
API (access) decides every access and audits it; these pages only show its answers and its refusals, in the reader's
language; the chosen patient's record is `pro_records.py`."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from ..api import Problem
from ..app import Current
from ..web import Page, field
from ._pro import _patients, _user

router = APIRouter(include_in_schema=False)
MATRICULE = re.compile(r"[0-9]{13}")
JUSTIFICATION_MIN = 15


def _matricule(form: Any, name: str) -> str:
    return field(form, name).replace(" ", "")


# --- login, logout ------------------------------------------------------------------------------------------

@router.get("/pro/login")
async def login_page(p: Current) -> Response:
    return p.render("pro_login.html", fields={})


@router.post("/pro/login")
async def login(p: Current) -> Response:
    form = await p.form()
    assertion = field(form, "assertion")
    if not assertion:
        return p.render("pro_login.html", 400, fields={"assertion": p._("Paste the assertion of your identity "
                                                                          "provider.")})
    try:
        await p.api.post("/v1/pro/login", {"assertion": assertion})
    except Problem as refused:
        if refused.status >= 500:
            raise
        said = p._("This assertion is too long.") if refused.status == 422 else p.refusal(refused)
        return p.render("pro_login.html", 400 if refused.status == 422 else refused.status,
                        fields={"assertion": said})
    p.set_pro_patient(None)
    return p.redirect("/pro")


@router.post("/pro/logout")
async def logout(p: Current) -> Response:
    await p.form()
    try:
        await p.api.post("/v1/pro/logout")
    except Problem:
        pass  # the session had ended already: the same page
    p.set_pro_patient(None)
    return p.redirect("/pro/login")


# --- my patients, a presence password, break the glass -------------------------------------------------------

async def _home(p: Page, status: int = 200, cursor: str | None = None, **values: Any) -> Response:
    page = await _patients(p, cursor)
    values.setdefault("fields", {})
    return p.render("pro_home.html", status, user=_user(p, page), patients=page["items"],
                    next_cursor=page.get("next_cursor"), chosen=p.pro_patient(), **values)


@router.get("/pro")
async def home(p: Current) -> Response:
    return await _home(p)


@router.post("/pro")
async def home_more(p: Current) -> Response:
    form = await p.form()
    return await _home(p, cursor=field(form, "cursor") or None, more=True)


@router.get("/pro/open")
@router.get("/pro/presence-password")
@router.get("/pro/break-the-glass")
async def back_home(p: Current) -> Response:
    """A form's address reloaded (or the language changed on its answer): my patients."""
    return p.redirect("/pro")


@router.post("/pro/open")
async def open_patient(p: Current) -> Response:
    form = await p.form()
    matricule = _matricule(form, "patient")
    if not MATRICULE.fullmatch(matricule):
        return p.redirect("/pro")
    p.set_pro_patient(matricule)
    return p.redirect("/pro/patient")


@router.post("/pro/presence-password")
async def redeem(p: Current) -> Response:
    form = await p.form()
    matricule, password = _matricule(form, "patient"), field(form, "password").upper()
    fields: dict[str, str] = {}
    if not MATRICULE.fullmatch(matricule):
        fields["presence-patient"] = p._("Type the 13 digits of the patient's national identification number.")
    if not password:
        fields["presence-password"] = p._("Type the presence password the patient gave you.")
    kept = {"presence_patient": matricule}
    if fields:
        return await _home(p, 400, fields=fields, **kept)
    try:
        await p.api.post("/v1/pro/presence-password", {"patient": matricule, "password": password})
    except Problem as refused:
        if refused.status >= 500 or refused.status == 401:
            raise
        if refused.status == 422:
            fields["presence-password"] = p._("Type the presence password the patient gave you.")
        return await _home(p, 400 if refused.status == 422 else refused.status, fields=fields,
                           presence_error=p.refusal(refused), **kept)
    p.set_pro_patient(matricule)
    return await _home(p, notice=p._("Presence password accepted: you may read this patient's record for 24 "
                                     "hours. The patient is told."))


@router.post("/pro/break-the-glass")
async def break_the_glass(p: Current) -> Response:
    form = await p.form()
    matricule, why = _matricule(form, "patient"), field(form, "justification")
    fields: dict[str, str] = {}
    if not MATRICULE.fullmatch(matricule):
        fields["glass-patient"] = p._("Type the 13 digits of the patient's national identification number.")
    if not JUSTIFICATION_MIN <= len(why) <= 500:
        fields["glass-justification"] = p._("Explain the emergency in 15 to 500 characters.")
    kept = {"glass_patient": matricule, "justification": why}
    if fields:
        return await _home(p, 400, fields=fields, **kept)
    try:
        await p.api.post("/v1/pro/break-the-glass", {"patient": matricule, "justification": why})
    except Problem as refused:
        if refused.status >= 500 or refused.status == 401:
            raise
        return await _home(p, 400 if refused.status == 422 else refused.status, glass_error=p.refusal(refused),
                           **kept)
    p.set_pro_patient(matricule)
    return await _home(p, notice=p._("Emergency access granted. The patient is told, with your justification."))
