"""The activation wizard, as the quick guide has it: the terms of use (CGU) → step 1 the letter's code (matricule,
code, a challenge) → step 2 a password (the policy shown live) → step 3 the one-time code by e-mail or SMS → step 4
LuxTrust (optional) → step 5 confirmation, then the login page. Each page checks what it can (a box ticked, a field
filled in) and sends the step to the API through `_wizard.py`, whose answer chooses the page that comes next."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from ..app import Current
from ..web import field
from ._wizard import TERMS_VERSION, _invalid, _show, _step
from .account import _solved

router = APIRouter(include_in_schema=False)


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
