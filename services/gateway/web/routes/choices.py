"""The choices of a DSP's settings (leaflet 000) about who may see what: emergency access (may a professional break
the glass), the organ-donation consent and its history, and the documents hidden from every health professional (block,
unblock). Each choice is an access command, or a records block, sent through the portal API, which decides; its
refusal is shown in the reader's language. Document ids are POSTed; a redirect after a change carries only a notice
code (`?done=...`)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from .. import web
from ..api import Problem
from ..app import Current
from ..web import Page, field
from ._forms import _command, _notice

router = APIRouter(include_in_schema=False)


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
