"""The patient's home page ('myDSP': the latest documents and notifications), the 'Ligne de vie' between two days,
'Traçabilité' (who read or changed what in the DSP, each action and reason in words; the whole trail as a file signed
by access) and the notifications (mark one or all as read). Everything goes through the portal API (`p.api`): this
module only puts its answers in words; dates and opaque cursors are not personal and go in links."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from .. import charts, i18n
from ..app import Current
from ..web import Page, field, header
from ._forms import _
from ._listing import _cursor, _labels

router = APIRouter(include_in_schema=False)

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


def _named(p: Page, table: dict[str, str], key: str | None) -> str:
    return p._(table[key]) if key in table else (p._(key) if key else "")


@router.get("/home")
async def home(p: Current) -> Response:
    async def read() -> tuple[Any, Any]:
        return (await p.api.get("/v1/me/documents", order="reported_at", limit=5),
                await p.api.get("/v1/me/notifications", limit=3))

    user, (latest, inbox) = await header(p, read)
    return p.render("home.html", user=user, documents=latest["items"], more=bool(latest["next_cursor"]),
                    inbox=inbox, fields={}, **_labels(p))


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.get("/timeline")
async def timeline(p: Current, start: str | None = None, end: str | None = None,
                   cursor: str | None = None) -> Response:
    """The 'Ligne de vie' between two days (both included), oldest first: drawn on a time axis (one lane per type
    of document, each mark a link), then listed (the chart's text equivalent); drawn for a phone and for a wide
    screen (the stylesheet shows one)."""
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

    async def read() -> dict[str, Any]:
        if fields:
            return {"items": [], "next_cursor": None}
        found: dict[str, Any] = await p.api.get(
            "/v1/me/timeline", start=datetime.combine(first, time(0), i18n.ZONE).isoformat(),
            end=datetime.combine(last + timedelta(days=1), time(0), i18n.ZONE).isoformat(), cursor=_cursor(cursor),
            limit=200)
        return found

    user, page = await header(p, read)
    labels = _labels(p)
    drawn = {size: charts.timeline(page["items"], first, last, width, p.lang,
                                   lambda kind: str(labels["types"].get(kind, kind)), lambda d: f"/documents/{d['id']}")
             for size, width in (("narrow", 340), ("wide", 900))} if page["items"] else {}
    return p.render("timeline.html", 400 if fields else 200, user=user, listing=page, fields=fields, charts=drawn,
                    start=start if fields.get("start") else first.isoformat(),
                    end=end if fields.get("end") else last.isoformat(), cursor=_cursor(cursor), **labels)


@router.get("/audit")
async def audit(p: Current, cursor: str | None = None) -> Response:
    user, page = await header(p, lambda: p.api.get("/v1/me/audit", cursor=_cursor(cursor), limit=50))
    entries = [{**e, "action_said": _named(p, ACTIONS, e.get("action")),
                "reason_said": p._(e["reason"]) if e.get("reason") else ""} for e in page["items"]]
    return p.render("audit.html", user=user, entries=entries, next_cursor=page.get("next_cursor"),
                    cursor=_cursor(cursor))


@router.get("/audit/export")
async def audit_export(p: Current) -> Response:
    """'Télécharger mon journal signé': the whole trail as the API serves it (signed by access), as a download."""
    reply = await p.api.file("GET", "/v1/me/audit/export")
    headers = {"Content-Disposition": reply.headers.get("content-disposition")
               or 'attachment; filename="dsp-audit-trail.json"', "X-Content-Type-Options": "nosniff"}
    return p.send(Response(reply.content, media_type="application/json", headers=headers))


@router.get("/export")
async def dsp_export(p: Current) -> Response:
    """'Télécharger mon DSP': the whole DSP as one FHIR R4 Bundle, as the API serves it, as a download."""
    reply = await p.api.file("GET", "/v1/me/export")
    headers = {"Content-Disposition": reply.headers.get("content-disposition")
               or 'attachment; filename="mon-dsp.json"', "X-Content-Type-Options": "nosniff"}
    return p.send(Response(reply.content, media_type="application/fhir+json", headers=headers))


@router.get("/notifications")
async def notifications(p: Current, cursor: str | None = None, marked: int | None = None) -> Response:
    user, page = await header(p, lambda: p.api.get("/v1/me/notifications", cursor=_cursor(cursor), limit=50))
    notice = p._("Marked as read.") if marked else None
    return p.render("notifications.html", user=user, listing=page, cursor=_cursor(cursor), notice=notice)


@router.post("/notifications/read")
async def mark_read(p: Current) -> Response:
    form = await p.form()
    notice_id = field(form, "id")
    await p.api.post("/v1/me/notifications/read", {"ids": [notice_id]} if notice_id else {"all": True})
    return p.redirect("/notifications?marked=1")
