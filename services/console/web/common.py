"""What every console route shares: its cookies, the session and CSRF checks of a write, and how a body is read
(one error shape: `{"detail": ...}` with the reason, never the input)."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError

from ..domain.operators import NotLoggedIn, Session
from ..service.sessions import Sessions
from . import pages


def errors(exc: ValidationError | RequestValidationError) -> list[dict[str, Any]]:
    found = exc.errors(include_input=False) if isinstance(exc, ValidationError) else exc.errors()
    return [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in found]  # never the input


def media_type(request: Request) -> str:
    """The request's Content-Type without its parameters (`; charset=...`), lower case."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


class Web:
    def __init__(self, sessions: Sessions, secure: bool) -> None:
        self.sessions, self.secure = sessions, secure
        self.session_cookie = "__Host-dsp-console" if secure else "dsp-console"  # __Host-: Secure, Path=/, no Domain
        self.login_cookie = "__Host-dsp-console-login" if secure else "dsp-console-login"

    def set_cookie(self, response: Response, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(name, value, max_age=max_age, path="/", secure=self.secure, httponly=True,
                            samesite="strict")

    def clear_cookie(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path="/", secure=self.secure, httponly=True, samesite="strict")

    def login_page(self, status: int, message: str = "", retry_after: int | None = None) -> HTMLResponse:
        """The login form with a fresh double-submit token (cookie + hidden field): a form posted from another
        site carries neither (the cookie is SameSite=Strict)."""
        token = secrets.token_urlsafe(32)
        response = HTMLResponse(pages.render("login.html", csrf=token, message=message), status)
        self.set_cookie(response, self.login_cookie, token, max_age=3600)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    async def session_of(self, request: Request, touch: bool = True) -> Session:
        try:
            return await self.sessions.find(request.cookies.get(self.session_cookie), touch=touch)
        except NotLoggedIn as exc:
            raise HTTPException(401, exc.reason) from None

    async def writer(self, request: Request, role: str = "viewer", supplied: str | None = None) -> Session:
        """A write's checks, in this order: logged in (401), the session's CSRF token (403), the role (403)."""
        session = await self.session_of(request)
        if not session.csrf_matches(supplied if supplied is not None else request.headers.get("x-csrf-token")):
            raise HTTPException(403, "missing or wrong CSRF token; reload the page")
        if not session.operator.may(role):
            raise HTTPException(403, f"this needs the {role} role")
        return session

    @staticmethod
    async def json_body(request: Request, model: type[BaseModel]) -> Any:
        if media_type(request) != "application/json":
            raise HTTPException(415, "send application/json")
        try:
            return model.model_validate_json(await request.body())
        except ValidationError as exc:
            raise HTTPException(422, {"reason": "invalid request", "errors": errors(exc)}) from None

    @staticmethod
    async def form(request: Request) -> dict[str, str]:
        if media_type(request) != "application/x-www-form-urlencoded":
            raise HTTPException(415, "send the login form")
        try:
            fields = parse_qs((await request.body()).decode(), max_num_fields=10, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            raise HTTPException(400, "unreadable form") from None
        return {k: v[0] for k, v in fields.items()}
