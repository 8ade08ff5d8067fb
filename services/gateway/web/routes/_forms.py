"""What the settings screens share (professionals, choices, assistants, passwords): the notice a page shows after a
change (a redirect carries only a non-personal code, `?done=...`) and an access command sent through the portal API,
its refusal put in the reader's language; and `_`, the marker of a sentence for the catalogs, for every route module
that keeps sentences in a table (the document screens' too)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response

from .. import web
from ..api import Problem
from ..web import Page


def _(message: str) -> str:
    """Marks a sentence for the catalogs; `Page._` translates it when shown."""
    return message


DONE = {  # ?done=<code> → the notice shown (non-personal codes only)
    "added": _("The professional was added to your trusted circle."),
    "removed": _("The professional was removed from your trusted circle."),
    "gp": _("Your referring GP is set."),
    "gp-unset": _("You no longer have a referring GP; the professional stays in your trusted circle."),
    "period": _("The access period was changed."),
    "revoked": _("The access was revoked."),
    "blocked-pro": _("The professional is blocked: they cannot read your DSP."),
    "unblocked-pro": _("The professional is no longer blocked."),
    "emergency": _("Your emergency access setting is saved."),
    "consent": _("Your consent is recorded."),
    "assistant-added": _("The DSP assistant was added."),
    "assistant-removed": _("The DSP assistant was removed."),
    "assistant-kept": _("You keep this DSP assistant: the link no longer ends."),
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


async def settings_page(p: Page, template: str, status: int = 200, **values: Any) -> Response:
    """A settings screen: the person logged in and the access state of the DSP acted on, the fields' errors (none
    by default) and what the route adds."""
    user, state = await web.patient(p)
    values.setdefault("fields", {})
    return p.render(template, status, user=user, state=state, **values)
