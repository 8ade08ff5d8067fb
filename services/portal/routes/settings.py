"""The settings of a DSP (leaflet 000's screens): health professionals (trusted circle, referring GP, blocked
professionals, the directory search), emergency access, consents, DSP assistants, blocked documents, passwords
(login and presence, the presence password shown once with its wallet card) and the other DSPs one assists.

Every change is an access command (or a records block) sent through the portal API; the API decides and its
refusal is shown in the reader's language. Personal data never goes in a URL: matricules, professional ids and
the name searched are POSTed; a redirect after a change carries only a notice code (`?done=...`)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from .. import web
from ..api import Problem
from ..app import Current
from ..web import Page, field

router = APIRouter(include_in_schema=False)


def _(message: str) -> str:
    """Marks a sentence for the catalogs; `Page._` translates it when shown."""
    return message


PERIODS = (30, 90, 180, 365)  # days offered when adding a professional (none: no end)
DONE = {  # ?done=<code> → the notice shown (non-personal codes only)
    "added": _("The professional was added to your trusted circle."),
    "removed": _("The professional was removed from your trusted circle."),
    "gp": _("Your referring GP is set."),
    "period": _("The access period was changed."),
    "revoked": _("The access was revoked."),
    "blocked-pro": _("The professional is blocked: they cannot read your DSP."),
    "unblocked-pro": _("The professional is no longer blocked."),
    "emergency": _("Your emergency access setting is saved."),
    "consent": _("Your consent is recorded."),
    "assistant-added": _("The DSP assistant was added."),
    "assistant-removed": _("The DSP assistant was removed."),
    "doc-blocked": _("The document is now hidden from health professionals."),
    "doc-unblocked": _("The document is visible to health professionals again."),
    "doc-pending": _("Your request was sent; it takes effect in a few moments."),
    "password": _("Your login password was changed. Your other sessions were ended."),
}


def _notice(p: Page) -> str | None:
    code = p.request.query_params.get("done", "")
    return p._(DONE[code]) if code in DONE else None


async def _command(p: Page, **body: Any) -> str | None:
    """Send one access command; None when accepted, else the API's reason in the reader's words."""
    try:
        await p.api.post("/v1/me/access/commands", body)
    except Problem as refused:
        if refused.status == 401 or refused.status >= 500:
            raise
        return p.refusal(refused)
    return None


def _days(value: str) -> int | None:
    return int(value) if value.isdigit() and 0 <= int(value) <= 365 else None


# --- Health professionals ---------------------------------------------------------------------------------------

async def _professionals(p: Page, status: int = 200, **values: Any) -> Response:
    user, state = await web.patient(p)
    circle = [g for g in state["grants"] if g["kind"] == "trusted-circle"]
    others = [g for g in state["grants"] if g["kind"] != "trusted-circle"]
    gp = (state.get("referring_gp") or {}).get("professional_id")
    values.setdefault("notice", _notice(p))
    return p.render("professionals.html", status, user=user, state=state, circle=circle, others=others, gp=gp,
                    periods=PERIODS, fields=values.pop("fields", {}), **values)


@router.get("/professionals")
async def professionals(p: Current) -> Response:
    return await _professionals(p)


@router.post("/professionals/search")
async def search(p: Current) -> Response:
    form = await p.form()
    q = field(form, "q")
    if len(q) < 2 or len(q) > 60:
        return await _professionals(p, 400, q=q, fields={"q": p._("Type 2 to 60 letters of the name.")})
    try:
        page = await p.api.get("/v1/professionals", q=q, limit=20)
    except Problem as refused:
        if refused.status == 401 or refused.status >= 500:
            raise
        return await _professionals(p, 400, q=q, fields={"q": p.refusal(refused)})
    return await _professionals(p, q=q, results=page["items"], searched=True)


async def _professional_change(p: Page, command: str, done: str, **extra: Any) -> Response:
    form = await p.form()
    body: dict[str, Any] = {"command": command, "professional_id": field(form, "professional_id")}
    if command == "add-to-circle" and (days := _days(field(form, "period_days"))) is not None:
        body["period_days"] = days
    if command == "set-access-period":
        body["days"] = _days(field(form, "days"))
    if command == "revoke-grant" and field(form, "grant"):
        body["grant"] = field(form, "grant")
    refused = await _command(p, **body, **extra)
    if refused:
        return await _professionals(p, 400, error=refused, notice=None)
    return p.redirect(f"/professionals?done={done}")


@router.post("/professionals/add")
async def add_professional(p: Current) -> Response:
    return await _professional_change(p, "add-to-circle", "added")


@router.post("/professionals/remove")
async def remove_professional(p: Current) -> Response:
    return await _professional_change(p, "remove-from-circle", "removed")


@router.post("/professionals/referring-gp")
async def referring_gp(p: Current) -> Response:
    return await _professional_change(p, "set-referring-gp", "gp")


@router.post("/professionals/period")
async def access_period(p: Current) -> Response:
    return await _professional_change(p, "set-access-period", "period")


@router.post("/professionals/revoke")
async def revoke(p: Current) -> Response:
    return await _professional_change(p, "revoke-grant", "revoked")


@router.post("/professionals/block")
async def block_professional(p: Current) -> Response:
    return await _professional_change(p, "block-professional", "blocked-pro")


@router.post("/professionals/unblock")
async def unblock_professional(p: Current) -> Response:
    return await _professional_change(p, "unblock-professional", "unblocked-pro")


# --- Emergency access, consents -----------------------------------------------------------------------------------

@router.get("/emergency")
async def emergency(p: Current) -> Response:
    user, state = await web.patient(p)
    return p.render("emergency.html", user=user, state=state, notice=_notice(p))


@router.post("/emergency")
async def set_emergency(p: Current) -> Response:
    form = await p.form()
    choice = field(form, "emergency")
    if choice not in ("allowed", "refused"):
        user, state = await web.patient(p)
        return p.render("emergency.html", 400, user=user, state=state,
                        fields={"emergency": p._("Choose one of the two settings.")})
    refused = await _command(p, command="set-emergency-access", refused=choice == "refused")
    if refused:
        user, state = await web.patient(p)
        return p.render("emergency.html", 400, user=user, state=state, error=refused)
    return p.redirect("/emergency?done=emergency")


def _consents(state: dict[str, Any], p: Page) -> list[dict[str, Any]]:
    """The organ-donation consents, newest first, with who recorded each (by name, never the matricule)."""
    names = {a["matricule"]: a.get("name") for a in state.get("assistants", [])}
    out = []
    for c in reversed([c for c in state.get("consents", []) if c["consent"] == "organ-donation"]):
        by = p._("you") if c["by"] == state["patient"] else (names.get(c["by"]) or p._("a DSP assistant"))
        out.append({**c, "by_name": by})
    return out


async def _consent_page(p: Page, status: int = 200, **values: Any) -> Response:
    user, state = await web.patient(p)
    history = _consents(state, p)
    return p.render("consents.html", status, user=user, history=history,
                    current=history[0]["value"] if history else None, **values)


@router.get("/consents")
async def consents(p: Current) -> Response:
    return await _consent_page(p, notice=_notice(p))


@router.post("/consents")
async def record_consent(p: Current) -> Response:
    form = await p.form()
    choice = field(form, "organ_donation")
    if choice not in ("yes", "no"):
        return await _consent_page(p, 400, fields={"organ_donation": p._("Choose yes or no.")})
    refused = await _command(p, command="record-consent", consent="organ-donation", value=choice == "yes")
    if refused:
        return await _consent_page(p, 400, error=refused)
    return p.redirect("/consents?done=consent")


# --- DSP assistants -------------------------------------------------------------------------------------------------

async def _assistants(p: Page, status: int = 200, **values: Any) -> Response:
    user, state = await web.patient(p)
    values.setdefault("fields", {})
    return p.render("assistants.html", status, user=user, state=state, **values)


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


@router.post("/assistants/remove")
async def remove_assistant(p: Current) -> Response:
    form = await p.form()
    refused = await _command(p, command="remove-assistant", assistant=field(form, "matricule"))
    if refused:
        return await _assistants(p, 400, error=refused)
    return p.redirect("/assistants?done=assistant-removed")


# --- Blocked documents ----------------------------------------------------------------------------------------------

async def _blocked_page(p: Page, status: int = 200, **values: Any) -> Response:
    user, state = await web.patient(p)
    documents: list[dict[str, Any]] = (await p.api.get("/v1/me/documents", limit=100))["items"]
    known = {d["id"]: d for d in documents}
    blocked = [d for d in documents if d["blocked"]]
    for missing in sorted(set(state.get("blocked_documents", [])) - known.keys()):  # beyond the first page
        try:
            blocked.append(await p.api.get(f"/v1/me/documents/{missing}"))
        except Problem as refused:
            if refused.status != 404:
                raise
    visible = [d for d in documents if not d["blocked"]]
    return p.render("blocked_documents.html", status, user=user, blocked=blocked, visible=visible, **values)


@router.get("/blocked-documents")
async def blocked_documents(p: Current) -> Response:
    return await _blocked_page(p, notice=_notice(p))


async def _visibility(p: Page, action: str) -> Response:
    form = await p.form()
    document = field(form, "document_id")
    if not document or not all(c.isalnum() or c in "._-" for c in document):
        return await _blocked_page(p, 400, error=p._("This document is not in the DSP."))
    try:
        sent = await p.api.post(f"/v1/me/documents/{document}/{action}")
    except Problem as refused:
        if refused.status == 401 or refused.status >= 500:
            raise
        return await _blocked_page(p, 400, error=p.refusal(refused))
    for _ in range(40):  # records applies it within moments: wait a little, so the next page shows it
        outcome = await p.api.get(f"/v1/me/commands/{sent['command_id']}")
        if outcome["status"] == "rejected":
            return await _blocked_page(p, 400, error=p._(str(outcome.get("reason") or "refused")))
        if outcome["status"] == "applied":
            return p.redirect(f"/blocked-documents?done=doc-{action}ed")
        await asyncio.sleep(0.25)
    return p.redirect("/blocked-documents?done=doc-pending")


@router.post("/blocked-documents/block")
async def block_document(p: Current) -> Response:
    return await _visibility(p, "block")


@router.post("/blocked-documents/unblock")
async def unblock_document(p: Current) -> Response:
    return await _visibility(p, "unblock")


# --- Passwords ------------------------------------------------------------------------------------------------------

async def _passwords(p: Page, status: int = 200, **values: Any) -> Response:
    user, state = await web.patient(p)
    values.setdefault("fields", {})
    return p.render("passwords.html", status, user=user, state=state, **values)


@router.get("/passwords")
async def passwords(p: Current) -> Response:
    return await _passwords(p, notice=_notice(p))


@router.post("/passwords/login")
async def change_password(p: Current) -> Response:
    form = await p.form()
    current, new, again = (str(form.get(k, "")) for k in ("password", "new_password", "new_password_again"))
    if new != again:
        return await _passwords(p, 400, fields={"new_password_again": p._("The two new passwords differ.")})
    try:
        await p.api.post("/v1/account/password", {"password": current, "new_password": new})
    except Problem as refused:
        if refused.status == 401 or refused.status >= 500:
            raise
        said = p.refusal(refused)
        where = "password" if "current" in refused.reason else "new_password"
        return await _passwords(p, 400, fields={where: said})
    return p.redirect("/passwords?done=password")


@router.post("/passwords/presence")
async def presence(p: Current) -> Response:
    form = await p.form()
    try:
        made = await p.api.post("/v1/me/presence-password", {"letter": bool(field(form, "letter"))})
    except Problem as refused:
        if refused.status == 401 or refused.status >= 500:
            raise
        return await _passwords(p, 400, error=p.refusal(refused))
    user, state = await web.patient(p)
    return p.render("wallet.html", user=user, state=state, secret=made["presence_password"],
                    letter=bool(field(form, "letter")))


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
