"""The patient's documents: the home page ('myDSP'), all documents and the search, a document (a lab result's
values, its versions, its file), 'Déposer un document', the 'Ligne de vie', 'Traçabilité' and the notifications.

Everything goes through the portal API (`p.api`): this module only puts its answers in words. A search term is
health data, so the search is a POST form whose answer shows the results (never `?q=` in a URL); document ids,
dates and opaque cursors are not personal and go in links."""

from __future__ import annotations

import base64
import re
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from .. import i18n
from ..api import Problem
from ..app import Current
from ..web import Page, field, patient

router = APIRouter(include_in_schema=False)

MAX_BYTES = 5 * 1024 * 1024  # the API's limit (services.gateway.uploads.MAX_BYTES)
KINDS = {"application/pdf": ("PDF", b"%PDF-"), "image/jpeg": ("JPEG", b"\xff\xd8\xff"),
         "image/png": ("PNG", b"\x89PNG\r\n\x1a\n")}
DOCUMENT_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
COMMAND_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"


def _(message: str) -> str:
    """Marks a sentence for the catalogs; it is translated when shown (`p._`)."""
    return message


FLAGS = {"H": ("▲", _("High")), "HH": ("▲▲", _("Critically high")), "L": ("▼", _("Low")),
         "LL": ("▼▼", _("Critically low")), "A": ("!", _("Abnormal")), "N": ("", _("Normal"))}
STATUSES = {"preliminary": _("Preliminary"), "final": _("Final"), "corrected": _("Corrected"),
            "cancelled": _("Cancelled"), "active": _("Current"), "withdrawn": _("Withdrawn by the laboratory")}
CHANGES = {"added": _("Received"), "corrected": _("Correction"), "withdrawn": _("Withdrawal")}
TYPES = {"lab-result": _("Lab result"), "patient-upload": _("My upload")}
COMMANDS = {"pending": _("Your document is being stored. This takes a few seconds."),
            "applied": _("Your document is stored in your DSP."),
            "rejected": _("Your document was refused.")}
ACTIONS = {"read": _("Read a document"), "manage": _("Changed access settings"),
           "break-the-glass": _("Emergency access (break the glass)"), "list": _("Listed the documents"),
           "add-to-circle": _("Added to the trusted circle"),
           "remove-from-circle": _("Removed from the trusted circle"),
           "set-referring-gp": _("Chose the referring doctor"), "block-professional": _("Blocked a professional"),
           "unblock-professional": _("Unblocked a professional"), "block-document": _("Hid a document"),
           "unblock-document": _("Showed a document again"), "redeem-presence-password": _("Used a presence password"),
           "set-emergency-access": _("Changed the emergency access setting"),
           "set-access-period": _("Changed an access period"), "revoke-grant": _("Revoked an access"),
           "end-grant": _("Ended an access"), "add-assistant": _("Added a DSP assistant"),
           "remove-assistant": _("Removed a DSP assistant"), "confirm-assistant": _("Confirmed a DSP assistant"),
           "record-consent": _("Recorded a consent"), "generate-presence-password": _("Made a presence password"),
           "verify-audit-trail": _("Checked the audit trail"),
           "set-document-visibility": _("Changed a document's visibility")}
REASONS = (_("owner"), _("DSP assistant"), _("referring GP"), _("trusted-circle"), _("presence-password"),
           _("emergency"), _("the assistant link has ended"), _("not the owner nor a DSP assistant of this record"),
           _("unknown professional"), _("only the patient and their DSP assistants manage access"),
           _("no grant for this professional"), _("professional blocked by the patient"),
           _("document blocked by the patient"), _("the grant has expired"), _("accepted"),
           _("no such document"), _("no such document in this DSP"), _("no such document file in this DSP"),
           _("no such document in this patient's DSP"), _("emergency access allowed"),
           _("emergency access refused"), _("presence password issued by the agency on activation; posted by letter"))
# the API's refusals of an upload, some of which carry numbers: matched by their beginning
UPLOAD_REFUSALS = ((r"the file is \d+ bytes", _("The file is larger than 5 MiB.")),
                   (r"the file is not a PDF", _("This file is not a PDF, JPEG or PNG.")),
                   (r"the file is \S+, not the declared", _("The file's content is not of the type you chose.")),
                   (r"the file contains HTML", _("The file contains web page code; it is refused.")),
                   (r"the PDF is encrypted", _("The PDF is protected by a password; upload it without one.")),
                   (r"the PDF has \d+ pages", _("The PDF has too many pages.")),
                   (r"the PDF has no page", _("The PDF has no page.")),
                   (r"the PDF", _("The PDF is damaged or cannot be read.")),
                   (r"the (image|PNG|JPEG|\w+ image)|the file is not a readable", _(
                       "The image is damaged or cannot be read.")))


def _cursor(value: str | None) -> str | None:
    return value if value and len(value) <= 512 else None


def _flag(observation: dict[str, Any]) -> dict[str, Any]:
    """A result's flag as words and a symbol (never colour alone): the laboratory's, else from the range."""
    code = observation.get("interpretation")
    value, low, high = observation.get("value"), observation.get("reference_low"), observation.get("reference_high")
    if not code and value is not None:
        code = "H" if high is not None and value > high else "L" if low is not None and value < low else None
    symbol, word = FLAGS.get(code or "", ("", ""))
    return {**observation, "flag": code, "flag_symbol": symbol, "flag_word": word,
            "out_of_range": bool(code and code != "N")}


def _named(p: Page, table: dict[str, str], key: str | None) -> str:
    return p._(table[key]) if key in table else (p._(key) if key else "")


def _labels(p: Page) -> dict[str, Any]:
    """What the templates need to put codes in words."""
    return {"statuses": {k: p._(v) for k, v in STATUSES.items()}, "types": {k: p._(v) for k, v in TYPES.items()},
            "changes": {k: p._(v) for k, v in CHANGES.items()}}


@router.get("/home")
async def home(p: Current) -> Response:
    user, _state = await patient(p)
    latest = await p.api.get("/v1/me/documents", order="reported_at", limit=5)
    inbox = await p.api.get("/v1/me/notifications", limit=3)
    return p.render("home.html", user=user, documents=latest["items"], more=bool(latest["next_cursor"]),
                    inbox=inbox, fields={}, **_labels(p))


@router.get("/documents")
async def documents(p: Current, cursor: str | None = None, withdrawn: bool = False) -> Response:
    user, _state = await patient(p)
    page = await p.api.get("/v1/me/documents", order="document_date", cursor=_cursor(cursor),
                           include_withdrawn="true" if withdrawn else None, limit=20)
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


@router.get("/documents/upload")
async def upload_page(p: Current) -> Response:
    user, _state = await patient(p)
    return p.render("upload.html", user=user, fields={}, values={}, kinds=KINDS)


@router.post("/documents/upload")
async def upload(p: Current) -> Response:
    form = await p.form()
    user, _state = await patient(p)
    title, kind, when = field(form, "title"), field(form, "kind"), field(form, "document_date")
    values = {"title": title, "kind": kind, "document_date": when}
    fields: dict[str, str] = {}
    if not title:
        fields["title"] = p._("Give the document a title.")
    elif len(title) > 200:
        fields["title"] = p._("The title is at most 200 characters.")
    if kind not in KINDS:
        fields["kind"] = p._("Choose the type of the file.")
    document_date = None
    if when:
        try:
            document_date = datetime.combine(date.fromisoformat(when), time(12), i18n.ZONE).isoformat()
        except ValueError:
            fields["document_date"] = p._("Write the date as YYYY-MM-DD.")
    sent = form.get("file")
    data = b""
    if not isinstance(sent, UploadFile) or not sent.filename:
        fields["file"] = p._("Choose a file.")
    else:
        data = await sent.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            fields["file"] = p._("The file is larger than 5 MiB.")
        elif not data:
            fields["file"] = p._("The file is empty.")
        elif not any(data.startswith(magic) for _name, magic in KINDS.values()):
            fields["file"] = p._("This file is not a PDF, JPEG or PNG.")
        elif kind in KINDS and not data.startswith(KINDS[kind][1]):
            fields["file"] = p._("The file's content is not of the type you chose.")
    if fields:
        return p.render("upload.html", 400, user=user, fields=fields, values=values, kinds=KINDS)
    body: dict[str, Any] = {"title": title, "content_type": kind, "data_base64": base64.b64encode(data).decode()}
    if document_date:
        body["document_date"] = document_date
    try:
        accepted = await p.api.post("/v1/me/documents", body)
    except Problem as refused:
        if refused.status not in (413, 422):
            raise
        where = next((k for k in refused.fields if k in ("title", "document_date")), "file")
        return p.render("upload.html", 400, user=user, fields={where: _upload_refusal(p, refused)}, values=values,
                        kinds=KINDS)
    return p.redirect(f"/documents/uploaded/{accepted['command_id']}")


def _upload_refusal(p: Page, refused: Problem) -> str:
    for pattern, said in UPLOAD_REFUSALS:
        if re.match(pattern, refused.reason):
            return p._(said)
    return p.refusal(refused)


@router.get("/documents/uploaded/{command_id}")
async def uploaded(p: Current, command_id: str) -> Response:
    if not re.match(COMMAND_ID, command_id):
        return p.redirect("/documents")
    user, _state = await patient(p)
    outcome = await p.api.get(f"/v1/me/commands/{command_id}")
    reason = None
    if outcome.get("reason"):
        reason = next((p._(said) for pattern, said in UPLOAD_REFUSALS if re.match(pattern, outcome["reason"])),
                      p._(outcome["reason"]))
    return p.render("uploaded.html", user=user, outcome=outcome, said=p._(COMMANDS[outcome["status"]]),
                    reason=reason)


@router.get("/documents/{document_id}/file")
async def document_file(p: Current, document_id: str,
                        version: int | None = Query(default=None, ge=1, le=10_000)) -> Response:
    if not re.match(DOCUMENT_ID, document_id):
        raise Problem(404, "no such document")
    reply = await p.api.raw("GET", f"/v1/me/documents/{document_id}/file",
                            params={"version": version} if version else None)
    if reply.status_code >= 400:
        try:
            body = reply.json()
        except ValueError:
            body = {}
        raise Problem(reply.status_code, str(body.get("reason") or body.get("title") or "error"), body)
    headers = {"Content-Disposition": reply.headers.get("content-disposition") or "attachment",
               "X-Content-Type-Options": "nosniff"}
    return p.send(Response(reply.content, media_type=reply.headers.get("content-type"), headers=headers))


@router.get("/documents/{document_id}")
async def document(p: Current, document_id: str) -> Response:
    if not re.match(DOCUMENT_ID, document_id):
        raise Problem(404, "no such document")
    user, _state = await patient(p)
    detail = await p.api.get(f"/v1/me/documents/{document_id}")
    observations = [_flag(o) for o in detail.get("observations") or []]
    versions = [{**v, "observations": [_flag(o) for o in v.get("observations") or []]}
                for v in reversed(detail.get("versions") or [])]  # newest first
    return p.render("document.html", user=user, doc=detail, observations=observations, versions=versions,
                    **_labels(p))


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.get("/timeline")
async def timeline(p: Current, start: str | None = None, end: str | None = None,
                   cursor: str | None = None) -> Response:
    """The 'Ligne de vie' between two days (both included), oldest first."""
    user, _state = await patient(p)
    today = datetime.now(i18n.ZONE).date()
    first, last = _day(start), _day(end)
    fields: dict[str, str] = {}
    if start and first is None:
        fields["start"] = p._("Write the date as YYYY-MM-DD.")
    if end and last is None:
        fields["end"] = p._("Write the date as YYYY-MM-DD.")
    first, last = first or today.replace(year=today.year - 1), last or today
    if not fields and last < first:
        fields["end"] = p._("The end date must not be before the start date.")
    page: dict[str, Any] = {"items": [], "next_cursor": None}
    if not fields:
        page = await p.api.get("/v1/me/timeline", start=datetime.combine(first, time(0), i18n.ZONE).isoformat(),
                               end=datetime.combine(last + timedelta(days=1), time(0), i18n.ZONE).isoformat(),
                               cursor=_cursor(cursor), limit=50)
    return p.render("timeline.html", 400 if fields else 200, user=user, listing=page, fields=fields,
                    start=start if fields.get("start") else first.isoformat(),
                    end=end if fields.get("end") else last.isoformat(), cursor=_cursor(cursor), **_labels(p))


@router.get("/audit")
async def audit(p: Current, cursor: str | None = None) -> Response:
    user, _state = await patient(p)
    page = await p.api.get("/v1/me/audit", cursor=_cursor(cursor), limit=50)
    entries = [{**e, "action_said": _named(p, ACTIONS, e.get("action")),
                "reason_said": p._(e["reason"]) if e.get("reason") else ""} for e in page["items"]]
    return p.render("audit.html", user=user, entries=entries, next_cursor=page.get("next_cursor"),
                    cursor=_cursor(cursor))


@router.get("/notifications")
async def notifications(p: Current, cursor: str | None = None, marked: int | None = None) -> Response:
    user, _state = await patient(p)
    page = await p.api.get("/v1/me/notifications", cursor=_cursor(cursor), limit=50)
    notice = p._("Marked as read.") if marked else None
    return p.render("notifications.html", user=user, listing=page, cursor=_cursor(cursor), notice=notice)


@router.post("/notifications/read")
async def mark_read(p: Current) -> Response:
    form = await p.form()
    notice_id = field(form, "id")
    await p.api.post("/v1/me/notifications/read", {"ids": [notice_id]} if notice_id else {"all": True})
    return p.redirect("/notifications?marked=1")
