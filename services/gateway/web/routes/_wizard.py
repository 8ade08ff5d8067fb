"""How the activation wizard's pages are asked and answered (the pages are `activation.py`): the API keeps the
activation in its `dsp_flow` cookie and answers the step that comes next (`next_step`), and that answer chooses the page
shown; a step out of order goes to the one that is due; a refusal is said at the field it concerns, in the reader's
language (a wait in seconds kept as a placeholder of the message id)."""

from __future__ import annotations

import re
from typing import Any

from fastapi.responses import Response

from ..api import Problem
from ..web import Page
from .account import _challenge

TERMS_VERSION = "2026-01"
# the API's next step → the page that asks for it
NEXT = {"start": "code", "set-password": "password", "choose-channel": "channel", "resend-otp": "otp",
        "verify-otp": "otp", "link-luxtrust or skip-luxtrust": "luxtrust", "link-luxtrust": "luxtrust",
        "skip-luxtrust": "luxtrust", "confirm": "confirm"}
WAIT = re.compile(r"\b(\d+) seconds\b")


def _said(p: Page, refused: Problem) -> str:
    """The API's reason in the reader's language (a wait in seconds kept as a placeholder of the message id)."""
    found = WAIT.search(refused.reason)
    if found:
        return p._(WAIT.sub("{seconds} seconds", refused.reason)).format(seconds=found.group(1))
    return p.refusal(refused)


def _field_of(reason: str) -> str:
    """The field a refusal concerns ("" : the whole form)."""
    if reason.startswith("this matricule and activation code"):
        return "activation_code"
    if reason.startswith("solve the challenge"):
        return "captcha_answer"
    if reason.startswith(("the password", "this password")):
        return "password"
    if reason.startswith("no e-mail address"):
        return "email"
    if reason.startswith("no mobile number"):
        return "mobile"
    if reason.startswith("choose e-mail or SMS"):
        return "channel"
    if "one-time code" in reason or reason.startswith("a new code can be sent"):
        return "code"
    if "LuxTrust" in reason:
        return "luxtrust_assertion"
    return ""


def _invalid(p: Page) -> dict[str, str]:
    """What to say at a field the API found malformed (its own messages are for programmers)."""
    return {"matricule": p._("Check your matricule: 13 digits, as written on your letter."),
            "activation_code": p._("Type the code from your letter, for example ABCD-EFGH-JKLM."),
            "email": p._("Type a valid e-mail address, for example name@example.lu."),
            "mobile": p._("Type your mobile number with its country code, for example +352 621 123 456."),
            "password": p._("Type a password of at most 128 characters."),
            "code": p._("Type the 6 digits you received."),
            "luxtrust_assertion": p._("The LuxTrust confirmation is too long.")}


def _placed(p: Page, refused: Problem) -> tuple[dict[str, str], str | None]:
    """The refusal at its field(s), or for the whole page."""
    if refused.status == 422 and refused.fields:
        helps = _invalid(p)
        return {k: helps.get(k, p._("Check this field.")) for k in refused.fields}, None
    where = _field_of(refused.reason)
    return ({where: _said(p, refused)}, None) if where else ({}, _said(p, refused))


async def _show(p: Page, view: str, status: int = 200, **values: Any) -> Response:
    values.setdefault("fields", {})
    if view == "code":
        values.setdefault("terms_version", TERMS_VERSION)
        values["challenge"] = await _challenge(p, bool(values.pop("altcha", False)))
    return p.render("activate.html", status, step=view, **values)


async def _step(p: Page, command: str, body: dict[str, Any], view: str, **values: Any) -> Response:
    """One step of the API's activation; the page of the step it answers comes next, or this one again."""
    try:
        answer: dict[str, Any] = await p.api.post(f"/v1/activation/{command}", body)
    except Problem as refused:
        status = refused.status if refused.status < 500 else 503
        comes = refused.body.get("next_step")
        if refused.status == 401 or comes == "start" or "start again" in refused.reason:
            return await _show(p, "code", 400, error=_said(p, refused))
        if comes in NEXT and NEXT[comes] != view:  # a step out of order: the one that is due
            return await _show(p, NEXT[comes], 400, error=p._("This step is already done or not yet due: "
                                                               "continue here."))
        fields, error = _placed(p, refused)
        return await _show(p, view, 400 if status == 401 else status, fields=fields, error=error, **values)
    details = answer.get("details") or {}
    return await _show(p, NEXT.get(str(answer.get("next_step")), "done"), details=details,
                       minor=details.get("minor") == "true", resent=bool(values.get("resent")))
