"""The health professionals screen of a DSP's settings (leaflet 000): the trusted circle (add, remove, the access
period, revoke an access), the referring GP, blocked professionals and the directory search. Every change is an access
command sent through the portal API, which decides; its refusal is shown in the reader's language. Personal data never
goes in a URL: professional ids and the name searched are POSTed, and a redirect after a change carries only a notice
code (`?done=...`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from .. import web
from ..api import Problem
from ..app import Current
from ..web import Page, field
from ._forms import _command, _notice

router = APIRouter(include_in_schema=False)
PERIODS = (30, 90, 180, 365)  # days offered when adding a professional (none: no end)


def _days(value: str) -> int | None:
    return int(value) if value.isdigit() and 0 <= int(value) <= 365 else None


async def _professionals(p: Page, status: int = 200, **values: Any) -> Response:
    user, state = await web.patient(p)
    circle = [g for g in state["grants"] if g["kind"] == "trusted-circle"]
    others = [g for g in state["grants"] if g["kind"] != "trusted-circle"]
    gp = (state.get("referring_gp") or {}).get("professional_id")
    values.setdefault("notice", _notice(p))
    return p.render("professionals.html", status, user=user, state=state, circle=circle, others=others, gp=gp,
                    periods=PERIODS, fields=values.pop("fields", {}), **values)


@router.get("/professionals")
async def professionals(p: Current) -> Response:
    return await _professionals(p)


@router.post("/professionals/search")
async def search(p: Current) -> Response:
    form = await p.form()
    q = field(form, "q")
    if len(q) < 2 or len(q) > 60:
        return await _professionals(p, 400, q=q, fields={"q": p._("Type 2 to 60 letters of the name.")})
    try:
        page = await p.api.get("/v1/professionals", q=q, limit=20)
    except Problem as refused:
        if refused.status == 401 or refused.status >= 500:
            raise
        return await _professionals(p, 400, q=q, fields={"q": p.refusal(refused)})
    return await _professionals(p, q=q, results=page["items"], searched=True)


async def _professional_change(p: Page, command: str, done: str, **extra: Any) -> Response:
    form = await p.form()
    body: dict[str, Any] = {"command": command, "professional_id": field(form, "professional_id")}
    if command == "add-to-circle" and (days := _days(field(form, "period_days"))) is not None:
        body["period_days"] = days
    if command == "set-access-period":
        body["days"] = _days(field(form, "days"))
    if command == "revoke-grant" and field(form, "grant"):
        body["grant"] = field(form, "grant")
    refused = await _command(p, **body, **extra)
    if refused:
        return await _professionals(p, 400, error=refused, notice=None)
    return p.redirect(f"/professionals?done={done}")


@router.post("/professionals/add")
async def add_professional(p: Current) -> Response:
    return await _professional_change(p, "add-to-circle", "added")


@router.post("/professionals/remove")
async def remove_professional(p: Current) -> Response:
    return await _professional_change(p, "remove-from-circle", "removed")


@router.post("/professionals/referring-gp")
async def referring_gp(p: Current) -> Response:
    return await _professional_change(p, "set-referring-gp", "gp")


@router.post("/professionals/unset-referring-gp")
async def unset_referring_gp(p: Current) -> Response:
    return await _professional_change(p, "unset-referring-gp", "gp-unset")


@router.post("/professionals/period")
async def access_period(p: Current) -> Response:
    return await _professional_change(p, "set-access-period", "period")


@router.post("/professionals/revoke")
async def revoke(p: Current) -> Response:
    return await _professional_change(p, "revoke-grant", "revoked")


@router.post("/professionals/block")
async def block_professional(p: Current) -> Response:
    return await _professional_change(p, "block-professional", "blocked-pro")


@router.post("/professionals/unblock")
async def unblock_professional(p: Current) -> Response:
    return await _professional_change(p, "unblock-professional", "unblocked-pro")
