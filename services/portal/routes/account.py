"""The start page, the language switcher, login with a one-time code, logout (the wizard: `activation.py`)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from .. import i18n
from ..api import Problem
from ..app import Current
from ..web import field

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
        p.cookie("dsp_lang", chosen, 365 * 24 * 3600)
    return p.redirect(_local(field(form, "next")))


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
    return p.redirect("/home")


@router.post("/logout")
async def logout(p: Current) -> Response:
    await p.form()
    try:
        await p.api.post("/v1/logout", {"everywhere": bool(field(await p.request.form(), "everywhere"))})
    except Problem:
        pass  # not logged in any more: the same page
    p.act_for(None)
    return p.redirect("/login")
