"""What the health professional's screens share (my patients, the chosen patient's record and documents): the
professional's patients, each with the grant by which they may be read (a 401 sends them to the login page), and the
header's name of the professional logged in."""

from __future__ import annotations

from typing import Any

from ..web import Page, User


async def _patients(p: Page, cursor: str | None = None) -> dict[str, Any]:
    """The professional's patients page (the professional named); a 401 goes to the login page."""
    page: dict[str, Any] = await p.api.get("/v1/pro/patients", cursor=cursor, limit=100)
    return page


def _user(p: Page, page: dict[str, Any]) -> User:
    me = page.get("professional") or {}
    return User(name=me.get("name") or me.get("professional_id") or p._("Health professional"), professional=True)
