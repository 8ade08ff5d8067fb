"""'Déposer un document': the upload form (a title, the type of the file, an optional date, a PDF, JPEG or PNG of
at most 5 MiB, checked here first so the common mistakes are said at once) and the page that follows the document
being stored. The portal API decides and stores; its refusals, some of which carry numbers, are matched by their
beginning and said at the field they concern, in the reader's language. Only the opaque command id goes in a URL."""

from __future__ import annotations

import base64
import re
from datetime import date, datetime, time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from schemas.fields import MESSAGE_ID_PATTERN

from .. import i18n
from ..api import Problem
from ..app import Current
from ..web import Page, field, patient
from ._forms import _

router = APIRouter(include_in_schema=False)

MAX_BYTES = 5 * 1024 * 1024  # the API's limit (services.gateway.uploads.MAX_BYTES)
KINDS = {"application/pdf": ("PDF", b"%PDF-"), "image/jpeg": ("JPEG", b"\xff\xd8\xff"),
         "image/png": ("PNG", b"\x89PNG\r\n\x1a\n")}
COMMAND_ID = re.compile(MESSAGE_ID_PATTERN)  # schemas.fields.MessageId
COMMANDS = {"pending": _("Your document is being stored. This takes a few seconds."),
            "applied": _("Your document is stored in your DSP."),
            "rejected": _("Your document was refused.")}
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
    if not COMMAND_ID.fullmatch(command_id):
        return p.redirect("/documents")
    user, _state = await patient(p)
    outcome = await p.api.get(f"/v1/me/commands/{command_id}")
    reason = None
    if outcome.get("reason"):
        reason = next((p._(said) for pattern, said in UPLOAD_REFUSALS if re.match(pattern, outcome["reason"])),
                      p._(outcome["reason"]))
    return p.render("uploaded.html", user=user, outcome=outcome, said=p._(COMMANDS[outcome["status"]]),
                    reason=reason)
