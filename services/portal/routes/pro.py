"""The health professional's pages: log in with the identity provider's signed assertion (as a SAML POST binding
would bring it), my patients and by which grant, a presence password redeemed, the glass broken, the chosen
patient's documents, a document's values and versions, its file, logout.

The patient worked on is chosen with a POST and kept in a sealed cookie (`Page.pro_patient`): a matricule never goes
in a URL (nor a cursor of the patients' list, which holds one: the next page is a POST too). The API (access)
decides every read and audits it; these pages only show its answers and its refusals, in the reader's language."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from ..api import Problem
from ..app import Current
from ..web import Page, User, field

router = APIRouter(include_in_schema=False)
MATRICULE = re.compile(r"[0-9]{13}")
DOCUMENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
JUSTIFICATION_MIN = 15
FILE_HEADERS = ("content-type", "content-disposition")


async def _patients(p: Page, cursor: str | None = None) -> dict[str, Any]:
    """The professional's patients page (the professional named); a 401 goes to the login page."""
    page: dict[str, Any] = await p.api.get("/v1/pro/patients", cursor=cursor, limit=100)
    return page


def _user(p: Page, page: dict[str, Any]) -> User:
    me = page.get("professional") or {}
    return User(name=me.get("name") or me.get("professional_id") or p._("Health professional"), professional=True)


def _chosen(page: dict[str, Any], matricule: str | None) -> dict[str, Any] | None:
    return next((item for item in page.get("items", []) if item.get("patient") == matricule), None)


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


# --- the chosen patient's documents --------------------------------------------------------------------------

async def _record(p: Page, cursor: str | None = None, q: str = "") -> Response:
    matricule = p.pro_patient()
    if not matricule:
        return p.redirect("/pro")
    page = await _patients(p)
    user, patient = _user(p, page), _chosen(page, matricule)
    body: dict[str, Any] = {"patient": matricule, "limit": 20}
    if cursor:
        body["cursor"] = cursor
    if q:
        body["q"] = q
    try:
        documents: dict[str, Any] = await p.api.post("/v1/pro/documents", body)
    except Problem as refused:
        if refused.status >= 500 or refused.status == 401:
            raise
        return p.render("pro_patient.html", refused.status if refused.status != 422 else 400, user=user,
                        patient=patient, documents=[], q=q, error=p.refusal(refused))
    return p.render("pro_patient.html", user=user, patient=patient, documents=documents["items"], q=q,
                    next_cursor=documents.get("next_cursor"), more=bool(cursor))


@router.get("/pro/patient")
async def record(p: Current) -> Response:
    return await _record(p)


@router.post("/pro/patient")
async def record_more(p: Current) -> Response:
    form = await p.form()
    return await _record(p, cursor=field(form, "cursor") or None, q=field(form, "q")[:100])


@router.get("/pro/documents/{document_id}")
async def document(document_id: str, p: Current) -> Response:
    matricule = p.pro_patient()
    if not matricule:
        return p.redirect("/pro")
    page = await _patients(p)
    user, patient = _user(p, page), _chosen(page, matricule)
    if not DOCUMENT_ID.fullmatch(document_id):
        return p.render("pro_document.html", 404, user=user, patient=patient, doc=None,
                        error=p._("no such document in this DSP"))
    try:
        doc: dict[str, Any] = await p.api.post("/v1/pro/documents/detail",
                                               {"patient": matricule, "document_id": document_id})
    except Problem as refused:
        if refused.status >= 500 or refused.status == 401:
            raise
        return p.render("pro_document.html", refused.status, user=user, patient=patient, doc=None,
                        error=p.refusal(refused))
    return p.render("pro_document.html", user=user, patient=patient, doc=doc)


@router.get("/pro/documents/{document_id}/file")
async def document_file(document_id: str, p: Current, version: int | None = None) -> Response:
    """The file as a download (never shown by the browser), of the current version or an earlier one."""
    matricule = p.pro_patient()
    if not matricule or not DOCUMENT_ID.fullmatch(document_id):
        return p.redirect("/pro")
    body: dict[str, Any] = {"patient": matricule, "document_id": document_id}
    if version:
        body["version"] = version
    reply = await p.api.raw("POST", "/v1/pro/documents/file", json=body)
    if reply.status_code >= 400:
        try:
            problem = reply.json()
        except ValueError:
            problem = {}
        refused = Problem(reply.status_code, str(problem.get("reason") or problem.get("title") or "error"), problem)
        if refused.status not in (403, 404):
            raise refused
        page = await _patients(p)
        return p.render("pro_document.html", refused.status, user=_user(p, page), patient=_chosen(page, matricule),
                        doc=None, error=p.refusal(refused))
    headers = {k: v for k, v in reply.headers.items() if k in FILE_HEADERS}
    if "content-disposition" not in headers:
        headers["content-disposition"] = f'attachment; filename="{document_id}"'
    headers["x-content-type-options"] = "nosniff"
    return p.send(Response(reply.content, headers=headers))
