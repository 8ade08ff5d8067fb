"""The activation wizard, as the quick guide has it: the terms of use (CGU) → step 1 the letter's code (matricule,
code, a challenge) → step 2 a password (the policy shown live) → step 3 the one-time code by e-mail or SMS → step 4
LuxTrust (optional) → step 5 confirmation, then the login page.

The API keeps the activation in its `dsp_flow` cookie and answers the step that comes next (`next_step`): that
answer chooses the page shown. A refusal is said at the field it concerns, in the reader's language."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from ..api import Problem
from ..app import Current
from ..web import Page, field
from .account import _challenge, _solved

router = APIRouter(include_in_schema=False)
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


@router.get("/activate")
async def terms(p: Current) -> Response:
    return await _show(p, "terms")


@router.post("/activate")
async def accept(p: Current) -> Response:
    form = await p.form()
    if field(form, "terms_version") != TERMS_VERSION:
        return await _show(p, "terms", 400, fields={
            "terms_version": p._("To activate your account, tick the box to accept the terms of use.")})
    return await _show(p, "code")


@router.post("/activate/start")
async def start(p: Current) -> Response:
    form = await p.form()
    matricule = field(form, "matricule").replace(" ", "")
    code = field(form, "activation_code")
    if field(form, "altcha_wanted"):
        return await _show(p, "code", matricule=matricule, activation_code=code, altcha=True)
    if field(form, "terms_version") != TERMS_VERSION:
        return await _show(p, "terms", 400, fields={
            "terms_version": p._("To activate your account, tick the box to accept the terms of use.")})
    fields = {}
    if not re.fullmatch(r"\d{13}", matricule):
        fields["matricule"] = _invalid(p)["matricule"]
    if not code:
        fields["activation_code"] = _invalid(p)["activation_code"]
    if fields:
        return await _show(p, "code", 400, fields=fields, matricule=matricule, activation_code=code,
                           altcha=bool(field(form, "altcha")))
    body = {"matricule": matricule, "activation_code": code, "terms_version": TERMS_VERSION, **_solved(form)}
    return await _step(p, "start", body, "code", matricule=matricule, activation_code=code,
                       altcha=bool(field(form, "altcha")))


@router.post("/activate/password")
async def password(p: Current) -> Response:
    form = await p.form()
    typed, again = str(form.get("password", "")), str(form.get("password_confirm", ""))
    minor = field(form, "minor") == "true"
    if not typed:
        return await _show(p, "password", 400, minor=minor, fields={"password": p._("Choose a password.")})
    if typed != again:
        return await _show(p, "password", 400, minor=minor, fields={
            "password_confirm": p._("The two passwords are not the same: type the same password twice.")})
    return await _step(p, "set-password", {"password": typed}, "password", minor=minor)


@router.post("/activate/channel")
async def channel(p: Current) -> Response:
    form = await p.form()
    chosen = field(form, "channel")
    email, mobile = field(form, "email"), field(form, "mobile").replace(" ", "")
    values = {"channel": chosen, "email": email, "mobile": mobile}
    if chosen not in ("email", "sms"):
        return await _show(p, "channel", 400, fields={"channel": p._("Choose e-mail or SMS.")}, **values)
    body: dict[str, Any] = {"channel": chosen}
    if chosen == "email" and email:
        body["email"] = email
    if chosen == "sms" and mobile:
        body["mobile"] = mobile
    return await _step(p, "choose-channel", body, "channel", **values)


@router.post("/activate/code")
async def verify(p: Current) -> Response:
    form = await p.form()
    code = field(form, "code").replace(" ", "")
    if not code:
        return await _show(p, "otp", 400, fields={"code": _invalid(p)["code"]})
    return await _step(p, "verify-otp", {"code": code}, "otp")


@router.post("/activate/resend")
async def resend(p: Current) -> Response:
    await p.form()
    return await _step(p, "resend-otp", {}, "otp", resent=True)


@router.post("/activate/luxtrust")
async def luxtrust(p: Current) -> Response:
    form = await p.form()
    assertion = field(form, "luxtrust_assertion")
    if not assertion:
        return await _show(p, "luxtrust", 400, fields={
            "luxtrust_assertion": p._("Connect with LuxTrust first, or go to the next step without LuxTrust.")})
    return await _step(p, "link-luxtrust", {"luxtrust_assertion": assertion}, "luxtrust")


@router.post("/activate/skip-luxtrust")
async def skip_luxtrust(p: Current) -> Response:
    await p.form()
    return await _step(p, "skip-luxtrust", {}, "luxtrust")


@router.post("/activate/confirm")
async def confirm(p: Current) -> Response:
    await p.form()
    return await _step(p, "confirm", {}, "confirm")
