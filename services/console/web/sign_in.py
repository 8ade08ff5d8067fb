"""The console's pages: logging in and out (throttled per name, never locked; audited), the dashboard, its
static files."""

from __future__ import annotations

import hmac

import structlog
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from prometheus_client import Counter

from ..domain.operators import NAME, NotLoggedIn
from ..service.audit import Audit
from ..service.operators import Operators
from ..service.throttle import LoginThrottle
from . import pages
from .common import Web

log = structlog.get_logger("dsp.console")
WRONG_LOGIN = "Wrong operator name or password."
STATIC = {"console.js": "text/javascript", "console.css": "text/css"}


def sign_in_routes(web: Web, operators: Operators, throttle: LoginThrottle, audit: Audit,
                   logins: Counter) -> APIRouter:
    router, sessions = APIRouter(include_in_schema=False), web.sessions

    @router.get("/login")
    async def login_form(request: Request, ended: bool = False) -> Response:
        try:
            await sessions.find(request.cookies.get(web.session_cookie), touch=False)
            return RedirectResponse("/", 303)
        except NotLoggedIn:
            return web.login_page(200, "Your session has ended; log in again." if ended else "")

    @router.post("/login")
    async def login(request: Request) -> Response:
        fields = await web.form(request)
        cookie, supplied = request.cookies.get(web.login_cookie, ""), fields.get("csrf", "")
        if not cookie or not hmac.compare_digest(cookie.encode(), supplied.encode()):
            logins.labels("csrf").inc()
            return web.login_page(403, "The login form had expired; please log in again.")
        name, password = fields.get("name", "").strip().lower()[:64], fields.get("password", "")
        throttled = bool(NAME.fullmatch(name))  # other names can be no operator's: not worth a stored counter
        async with throttle.turn(name):
            wait = await throttle.wait_s(name) if throttled else 0
            if wait:
                logins.labels("slowed").inc()
                return web.login_page(429, f"Too many failed attempts with this name; try again in {wait} s.", wait)
            operator, exists = await operators.verify(name, password)
            if operator is None:
                if throttled:
                    await throttle.failed(name)
                if exists:  # a typed name that is no operator's is never stored (it may be a mistyped password)
                    await audit.record("login-refused", name)
                logins.labels("refused").inc()
                return web.login_page(401, WRONG_LOGIN)
            await throttle.succeeded(name)
        token, _ = await sessions.open(operator)
        await audit.record("login", operator.name, role=operator.role)
        logins.labels("ok").inc()
        log.info("console operator logged in", operator=operator.name, role=operator.role)
        response = RedirectResponse("/", 303)
        web.set_cookie(response, web.session_cookie, token)
        web.clear_cookie(response, web.login_cookie)
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        fields = await web.form(request)
        try:
            session = await web.writer(request, supplied=fields.get("csrf", ""))
        except HTTPException as exc:
            if exc.status_code != 401:
                raise
            return RedirectResponse("/login", 303)  # not logged in: nothing to end
        await sessions.revoke(session)
        await audit.record("logout", session.operator.name)
        response = RedirectResponse("/login", 303)
        web.clear_cookie(response, web.session_cookie)
        return response

    @router.get("/", response_class=HTMLResponse)
    async def page(request: Request) -> Response:
        try:
            session = await sessions.find(request.cookies.get(web.session_cookie))
        except NotLoggedIn:
            return RedirectResponse("/login", 303)
        return HTMLResponse(pages.render("index.html", operator=session.operator.name, role=session.operator.role,
                                         csrf=session.csrf, plotly_map_style_id=pages.plotly_map_style()[0]))

    @router.get("/static/plotly.min.js")
    async def plotly() -> FileResponse:
        return FileResponse(pages.plotly_js(), media_type="text/javascript")

    @router.get("/static/plotly.css")
    async def plotly_css() -> Response:
        return Response(pages.plotly_css(), media_type="text/css")

    @router.get("/static/plotly-map.css")
    async def plotly_map_css() -> Response:
        return Response(pages.plotly_map_style()[1], media_type="text/css")

    @router.get("/static/{name}")
    async def static(name: str) -> FileResponse:
        if name not in STATIC:
            raise HTTPException(404, "no such file")
        return FileResponse(pages.STATIC / name, media_type=STATIC[name])

    return router
