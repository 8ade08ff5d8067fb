"""The patient's documents: all documents (with or without the withdrawn ones) and the search, a document (a lab
result's values with their flags, its versions) and its file as a download. Everything goes through the portal API
(`p.api`): this module only puts its answers in words. A search term is health data, so the search is a POST form
whose answer shows the results (never `?q=` in a URL); document ids and opaque cursors are not personal and go in
links."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from schemas.fields import IDENTIFIER_PATTERN

from .. import charts
from ..api import Problem
from ..app import Current
from ..web import Page, field, header, patient
from ._forms import _
from ._listing import _cursor, _labels

router = APIRouter(include_in_schema=False)

DOCUMENT_ID = re.compile(IDENTIFIER_PATTERN)  # schemas.fields.Identifier
LOINC = re.compile(r"\d{1,7}-\d")  # schemas.lab_result.LOINC
FLAGS = {"H": ("▲", _("High")), "HH": ("▲▲", _("Critically high")), "L": ("▼", _("Low")),
         "LL": ("▼▼", _("Critically low")), "A": ("!", _("Abnormal")), "N": ("", _("Normal"))}


def _flag(observation: dict[str, Any]) -> dict[str, Any]:
    """A result's flag as words and a symbol (never colour alone): the laboratory's, else from the range."""
    code = observation.get("interpretation")
    value, low, high = observation.get("value"), observation.get("reference_low"), observation.get("reference_high")
    if not code and value is not None:
        code = "H" if high is not None and value > high else "L" if low is not None and value < low else None
    symbol, word = FLAGS.get(code or "", ("", ""))
    return {**observation, "flag": code, "flag_symbol": symbol, "flag_word": word,
            "out_of_range": bool(code and code != "N")}


def flagged_history(history: dict[str, Any]) -> dict[str, Any]:
    """An analyte's history (the API's AnalyteHistory) with each result's flag in words and symbol."""
    results = []
    for r in history["results"]:
        said = _flag(r["observation"])
        results.append({**r, **{k: said[k] for k in ("flag", "flag_symbol", "flag_word", "out_of_range")}})
    return {**history, "results": results}


async def histories(p: Page, observations: list[dict[str, Any]], ask: Any, current: str) -> list[dict[str, Any]]:
    """The analytes of a lab result that have earlier results, each with its chart (`ask`: the API call that gives
    the histories of a list of LOINC codes)."""
    codes = list(dict.fromkeys(o["loinc"] for o in observations if o.get("value") is not None))[:50]
    if not codes:
        return []
    found = await ask(codes)
    out = []
    for history in found["histories"]:
        if len(history["results"]) < 2:
            continue
        history = flagged_history(history)
        out.append({"history": history, "chart": charts.value_chart(history["results"], p.lang, current)})
    return out


@router.get("/documents")
async def documents(p: Current, cursor: str | None = None, withdrawn: bool = False) -> Response:
    user, page = await header(p, lambda: p.api.get("/v1/me/documents", order="document_date", cursor=_cursor(cursor),
                                                    include_withdrawn="true" if withdrawn else None, limit=20))
    return p.render("documents.html", user=user, listing=page, withdrawn=withdrawn, cursor=_cursor(cursor), q="",
                    fields={}, **_labels(p))


@router.get("/documents/search")
async def search_page(p: Current) -> Response:
    return p.redirect("/documents")  # the search answers a POST (e.g. after a language change)


@router.post("/documents/search")
async def search(p: Current) -> Response:
    """The search term stays in the form's body and the answer, never in a URL."""
    form = await p.form()
    user, _state = await patient(p)
    q, withdrawn = field(form, "q")[:100], bool(field(form, "withdrawn"))
    cursor = _cursor(field(form, "cursor"))
    values: dict[str, Any] = {"user": user, "q": q, "withdrawn": withdrawn, "searched": True, **_labels(p)}
    if len(q) < 2:
        return p.render("documents.html", 400, listing={"items": [], "next_cursor": None},
                        fields={"q": p._("Type at least two letters.")}, **values)
    try:
        page = await p.api.get("/v1/me/documents", q=q, order="document_date", cursor=cursor,
                               include_withdrawn="true" if withdrawn else None, limit=20)
    except Problem as refused:
        if refused.status != 422:
            raise
        return p.render("documents.html", 400, listing={"items": [], "next_cursor": None},
                        fields={"q": p.refusal(refused)}, **values)
    return p.render("documents.html", listing=page, fields={}, cursor=cursor, **values)


@router.get("/documents/{document_id}/file")
async def document_file(p: Current, document_id: str,
                        version: int | None = Query(default=None, ge=1, le=10_000)) -> Response:
    if not DOCUMENT_ID.fullmatch(document_id):
        raise Problem(404, "no such document")
    reply = await p.api.file("GET", f"/v1/me/documents/{document_id}/file",
                             params={"version": version} if version else None)
    headers = {"Content-Disposition": reply.headers.get("content-disposition") or "attachment",
               "X-Content-Type-Options": "nosniff"}
    return p.send(Response(reply.content, media_type=reply.headers.get("content-type"), headers=headers))


@router.get("/documents/{document_id}")
async def document(p: Current, document_id: str) -> Response:
    if not DOCUMENT_ID.fullmatch(document_id):
        raise Problem(404, "no such document")
    user, detail = await header(p, lambda: p.api.get(f"/v1/me/documents/{document_id}"))
    observations = [_flag(o) for o in detail.get("observations") or []]
    versions = [{**v, "observations": [_flag(o) for o in v.get("observations") or []]}
                for v in reversed(detail.get("versions") or [])]  # newest first
    found = await histories(p, observations, lambda codes: p.api.get("/v1/me/values", loinc=codes), document_id)
    return p.render("document.html", user=user, doc=detail, observations=observations, versions=versions,
                    histories=found, **_labels(p))


@router.get("/documents/values/{loinc}")
async def values(p: Current, loinc: str) -> Response:
    """Every result of one analyte (by its LOINC code): its chart and its table."""
    if not LOINC.fullmatch(loinc):
        raise Problem(404, _("no such analyte"))
    user, _state = await patient(p)
    [history] = (await p.api.get("/v1/me/values", loinc=[loinc]))["histories"]
    if not history["results"]:
        raise Problem(404, _("no result of this analyte in this DSP"))
    history = flagged_history(history)
    chart = charts.value_chart(history["results"], p.lang, None)
    return p.render("values.html", user=user, history=history, chart=chart, loinc=loinc)
