"""The passwords screen of a DSP's settings (leaflet 000): change the login password (the API ends the other
sessions), and make a new presence password, shown once with its wallet card (and sent by letter if asked). The API
decides; its refusal is shown at the field it concerns, in the reader's language."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from .. import web
from ..api import Problem
from ..app import Current
from ..web import Page, field
from ._forms import _notice, settings_page

router = APIRouter(include_in_schema=False)


async def _passwords(p: Page, status: int = 200, **values: Any) -> Response:
    return await settings_page(p, "passwords.html", status, **values)


@router.get("/passwords")
async def passwords(p: Current) -> Response:
    return await _passwords(p, notice=_notice(p))


@router.post("/passwords/login")
async def change_password(p: Current) -> Response:
    form = await p.form()
    current, new, again = (str(form.get(k, "")) for k in ("password", "new_password", "new_password_again"))
    if new != again:
        return await _passwords(p, 400, fields={"new_password_again": p._("The two new passwords differ.")})
    try:
        await p.api.post("/v1/account/password", {"password": current, "new_password": new})
    except Problem as refused:
        if refused.status == 401 or refused.status >= 500:
            raise
        said = p.refusal(refused)
        where = "password" if "current" in refused.reason else "new_password"
        return await _passwords(p, 400, fields={where: said})
    return p.redirect("/passwords?done=password")


@router.post("/passwords/presence")
async def presence(p: Current) -> Response:
    form = await p.form()
    try:
        made = await p.api.post("/v1/me/presence-password", {"letter": bool(field(form, "letter"))})
    except Problem as refused:
        if refused.status == 401 or refused.status >= 500:
            raise
        return await _passwords(p, 400, error=p.refusal(refused))
    user, state = await web.patient(p)
    return p.render("wallet.html", user=user, state=state, secret=made["presence_password"],
                    letter=bool(field(form, "letter")))
