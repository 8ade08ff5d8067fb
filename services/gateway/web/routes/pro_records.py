"""The chosen patient's record as a health professional reads it: the documents (the next page and the search are
POSTs), a document's values and versions, and its file as a download (never shown by the browser). The patient is the
one chosen on 'my patients' and kept in a sealed cookie (`Page.pro_patient`), never in a URL; the API (access) decides
every read and audits it, and its refusal is shown in the reader's language."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from schemas.fields import IDENTIFIER_PATTERN

from ..api import Problem
from ..app import Current
from ..web import Page, field
from ._pro import _patients, _user
from .documents import histories

router = APIRouter(include_in_schema=False)
DOCUMENT_ID = re.compile(IDENTIFIER_PATTERN)  # schemas.fields.Identifier
FILE_HEADERS = ("content-type", "content-disposition")


def _chosen(page: dict[str, Any], matricule: str | None) -> dict[str, Any] | None:
    return next((item for item in page.get("items", []) if item.get("patient") == matricule), None)


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
    found = await histories(p, doc.get("observations") or [],
                            lambda codes: p.api.post("/v1/pro/values", {"patient": matricule, "loinc": codes}),
                            document_id)
    return p.render("pro_document.html", user=user, patient=patient, doc=doc, histories=found)


@router.get("/pro/documents/{document_id}/file")
async def document_file(document_id: str, p: Current, version: int | None = None) -> Response:
    """The file as a download (never shown by the browser), of the current version or an earlier one."""
    matricule = p.pro_patient()
    if not matricule or not DOCUMENT_ID.fullmatch(document_id):
        return p.redirect("/pro")
    body: dict[str, Any] = {"patient": matricule, "document_id": document_id}
    if version:
        body["version"] = version
    try:
        reply = await p.api.file("POST", "/v1/pro/documents/file", json=body)
    except Problem as refused:
        if refused.status not in (403, 404):
            raise
        page = await _patients(p)
        return p.render("pro_document.html", refused.status, user=_user(p, page), patient=_chosen(page, matricule),
                        doc=None, error=p.refusal(refused))
    headers = {k: v for k, v in reply.headers.items() if k in FILE_HEADERS}
    if "content-disposition" not in headers:
        headers["content-disposition"] = f'attachment; filename="{document_id}"'
    headers["x-content-type-options"] = "nosniff"
    return p.send(Response(reply.content, headers=headers))
