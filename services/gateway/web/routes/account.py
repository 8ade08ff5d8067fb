"""The start page, the language switcher (remembered per person once logged in), login with a one-time code, the
forgotten password, logout (here or everywhere); the activation wizard is `activation.py`."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from .. import i18n, web
from ..api import Problem
from ..app import Current
from ..web import YEAR, Page, field

router = APIRouter(include_in_schema=False)


def _local(target: str) -> str:
    """Only a path of this site (no open redirect)."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


@router.get("/")
async def start(p: Current) -> Response:
    if p.api.cookies.get("dsp_session"):
        return p.redirect("/home")
    return p.render("login.html", fields={}, start=True)


@router.post("/language")
async def language(p: Current) -> Response:
    form = await p.form()
    chosen = field(form, "lang")
    if chosen in i18n.LANGUAGES:
        p.cookie("dsp_lang", chosen, YEAR)
        if p.api.cookies.get("dsp_session"):  # remembered for the person, in every browser
            try:
                await p.api.call("PUT", "/v1/me/preferences", json={"language": chosen}, own=True)
            except Problem:
                pass  # not logged in any more, or not now: the cookie still holds the choice here
    return p.redirect(_local(field(form, "next")))


async def _remembered_language(p: Page) -> None:
    """The language the person chose in any browser becomes this browser's."""
    try:
        chosen = (await p.api.call("GET", "/v1/me/preferences", own=True)).get("language")
    except Problem:
        return
    if chosen in i18n.LANGUAGES:
        p.cookie("dsp_lang", chosen, YEAR)


@router.get("/login")
async def login_page(p: Current) -> Response:
    return p.render("login.html", fields={})


async def _challenge(p: Any, altcha: bool = False) -> dict[str, Any]:
    if altcha:
        answer: dict[str, Any] = await p.api.post("/v1/activation/altcha")
        return {"altcha_json": json.dumps(answer)}
    captcha: dict[str, Any] = await p.api.post("/v1/activation/captcha")
    return captcha


def _solved(form: Any) -> dict[str, str]:
    return {k: field(form, k) for k in ("captcha_id", "captcha_answer", "altcha") if field(form, k)}


@router.post("/login")
async def login(p: Current) -> Response:
    form = await p.form()
    matricule = field(form, "matricule").replace(" ", "")
    if field(form, "altcha_wanted"):
        return p.render("login.html", fields={}, matricule=matricule, challenge=await _challenge(p, True))
    body = {"matricule": matricule, "password": str(form.get("password", "")), **_solved(form)}
    if field(form, "channel") in ("email", "sms"):
        body["channel"] = field(form, "channel")
    try:
        await p.api.post("/v1/login", body)
    except Problem as refused:
        challenge = await _challenge(p) if refused.body.get("challenge_required") else None
        return p.render("login.html", 400 if refused.status < 500 else 503, fields={
            k: p._(v) for k, v in refused.fields.items()}, matricule=matricule, error=p.refusal(refused),
            challenge=challenge)
    return p.render("login.html", step="code", fields={})


@router.post("/login/code")
async def verify(p: Current) -> Response:
    form = await p.form()
    try:
        await p.api.post("/v1/login/verify", {"code": field(form, "code")})
    except Problem as refused:
        if refused.status == 401:
            return p.render("login.html", 401, fields={}, error=p.refusal(refused))
        return p.render("login.html", 400, step="code", fields={"code": p.refusal(refused)})
    p.act_for(None)
    await _remembered_language(p)
    return p.redirect("/home")


@router.get("/password/forgot")
async def forgot_page(p: Current) -> Response:
    return p.render("forgot.html", fields={}, challenge=await _challenge(p))


@router.post("/password/forgot")
async def forgot(p: Current) -> Response:
    """A new letter by post; the same answer whether or not the matricule has an account."""
    form = await p.form()
    matricule = field(form, "matricule").replace(" ", "")
    altcha = bool(field(form, "altcha_wanted") or field(form, "altcha"))
    if field(form, "altcha_wanted"):
        return p.render("forgot.html", fields={}, matricule=matricule, challenge=await _challenge(p, True))
    if not matricule.isdigit() or len(matricule) != 13:
        return p.render("forgot.html", 400, matricule=matricule, challenge=await _challenge(p, altcha), fields={
            "matricule": p._("Check your matricule: 13 digits, as written on your letter.")})
    try:
        await p.api.post("/v1/password/forgot", {"matricule": matricule, **_solved(form)})
    except Problem as refused:
        fields = {"captcha_answer": p.refusal(refused)} if refused.reason.startswith("solve the challenge") else {}
        if refused.status == 422:
            fields = {"matricule": p._("Check your matricule: 13 digits, as written on your letter.")}
        return p.render("forgot.html", refused.status if refused.status < 500 else 503, matricule=matricule,
                        fields=fields, error=None if fields else p.refusal(refused),
                        challenge=await _challenge(p, altcha))
    return p.render("forgot.html", fields={}, sent=True)


@router.get("/logout")
async def logout_page(p: Current) -> Response:
    user, _state = await web.patient(p)
    return p.render("login.html", step="logout", fields={}, user=user)


@router.post("/logout")
async def logout(p: Current) -> Response:
    await p.form()
    try:
        await p.api.post("/v1/logout", {"everywhere": bool(field(await p.request.form(), "everywhere"))})
    except Problem:
        pass  # not logged in any more: the same page
    p.act_for(None)
    return p.redirect("/login")
