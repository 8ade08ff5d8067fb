"""What every page shares: the templates in the reader's language, the CSRF check on every form, the headers of
a personal page (no-store, a CSP without 'unsafe-inline'), the DSP being acted on, and a refusal put in words.

- CSRF: a random `dsp_csrf` cookie (HttpOnly, SameSite=Strict) and the same value in each form's hidden `csrf`
  field, compared in constant time; a form posted from another origin (`Origin` or `Sec-Fetch-Site`) is refused.
- The DSP acted on: a parent who switched to a child's DSP carries `dsp_acting` (HttpOnly, SameSite=Strict), sent to
  the API as `X-DSP-Patient` — the API (access) decides on every call; the matricule never goes in a URL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox
from starlette.datastructures import FormData

from . import i18n
from .api import Api, Problem

TEMPLATES = Path(__file__).parent / "templates"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "manifest-src 'self'; worker-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
YEAR = 365 * 24 * 3600


@cache
def environment(lang: str) -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(("html",)),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["when"] = lambda v, time=True: i18n.when(v, lang, time)
    env.filters["number"] = lambda v: i18n.number(v, lang)
    env.globals.update(lang=lang, languages=i18n.LANGUAGES)
    return env


class Page:
    """One page request: its language, its API client, its CSRF token, and how it answers."""

    def __init__(self, request: Request, secure: bool, box: SecretBox) -> None:
        self.request, self.secure, self.box = request, secure, box
        self.lang = i18n.choose(request.cookies.get("dsp_lang"), request.headers.get("accept-language"))
        self.acting = self._unseal(request.cookies.get("dsp_acting"))
        self.api = Api(request, self.acting)
        self.csrf = request.cookies.get("dsp_csrf") or secrets.token_urlsafe(32)
        self._new_cookies: list[tuple[str, str, int]] = []
        if "dsp_csrf" not in request.cookies:
            self._new_cookies.append(("dsp_csrf", self.csrf, 8 * 3600))

    def _unseal(self, sealed: str | None) -> str | None:
        try:
            return self.box.decrypt(base64.urlsafe_b64decode(sealed)).decode() if sealed else None
        except (CryptoError, ValueError):
            return None

    def act_for(self, matricule: str | None) -> None:
        """From the next page on, act on this DSP (None: one's own); the cookie is sealed, the matricule unread."""
        if matricule:
            sealed = base64.urlsafe_b64encode(self.box.encrypt(matricule.encode())).decode()
            self.cookie("dsp_acting", sealed, 8 * 3600)
        else:
            self.cookie("dsp_acting", "", 0)
        self.acting = self.api.acting = matricule

    def pro_patient(self) -> str | None:
        """The patient a professional works on (chosen with a POST, never in a URL), None: none chosen."""
        if not hasattr(self, "_pro_patient"):
            self._pro_patient = self._unseal(self.request.cookies.get("dsp_pro_patient"))
        return self._pro_patient

    def set_pro_patient(self, matricule: str | None) -> None:
        """From the next page on, the professional works on this patient (None: none); sealed as `act_for`."""
        if matricule:
            sealed = base64.urlsafe_b64encode(self.box.encrypt(matricule.encode())).decode()
            self.cookie("dsp_pro_patient", sealed, 8 * 3600)
        else:
            self.cookie("dsp_pro_patient", "", 0)
        self._pro_patient = matricule

    def _(self, message: str) -> str:
        return i18n.translations(self.lang).gettext(message)

    def cookie(self, name: str, value: str, max_age: int) -> None:
        self._new_cookies.append((name, value, max_age))

    def _finish(self, response: Response) -> Response:
        self.api.pass_cookies(response)
        for name, value, max_age in self._new_cookies:
            if max_age <= 0:
                response.delete_cookie(name, path="/", secure=self.secure, httponly=True, samesite="strict")
            else:
                response.set_cookie(name, value, max_age=max_age, path="/", secure=self.secure, httponly=True,
                                    samesite="strict")
        response.headers["Content-Security-Policy"] = CSP
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "same-origin"  # "no-referrer" would make a form's Origin "null"
        response.headers["Content-Language"] = self.lang
        return response

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        env = environment(self.lang)
        body = env.get_template(template).render(page=self, csrf=self.csrf, path=self.request.url.path, **values)
        return self._finish(HTMLResponse(body, status))

    def send(self, response: Response) -> Response:
        """Any other answer (e.g. a file download) with the cookies and headers of a personal page."""
        return self._finish(response)

    def redirect(self, to: str) -> Response:
        return self._finish(RedirectResponse(to, 303))

    def refusal(self, problem: Problem) -> str:
        """The API's reason in the reader's language (the reasons are message ids in the catalogs)."""
        said = self._(problem.reason)
        if problem.retry_after_s:
            said += " " + self._("Try again in {seconds} seconds.").format(seconds=problem.retry_after_s)
        return said

    async def form(self) -> FormData:
        """The posted form, once its CSRF token and origin are checked (`Forbidden` otherwise)."""
        form = await self.request.form()
        supplied, cookie = str(form.get("csrf", "")), self.request.cookies.get("dsp_csrf", "")
        site = self.request.headers.get("sec-fetch-site", "same-origin")
        origin = self.request.headers.get("origin")
        host = self.request.headers.get("host", "")
        if not cookie or not hmac.compare_digest(supplied.encode(), cookie.encode()) \
                or site not in ("same-origin", "none") or (origin and origin.split("://", 1)[-1] != host):
            raise Forbidden()
        return form


@dataclass
class User:
    """Who the header names: the person logged in, the DSP acted on (a parent on a child's), or a professional."""

    name: str
    acting_name: str | None = None
    professional: bool = False


async def patient(p: Page) -> tuple[User, dict[str, Any]]:
    """The person logged in and the access state of the DSP acted on (a 401 sends them to the login page). A DSP
    one may no longer act on (the assistant was removed) takes them back to their own."""
    try:
        state: dict[str, Any] = await p.api.get("/v1/me/access")
    except Problem as refused:
        if refused.status != 403 or not p.acting:
            raise
        p.act_for(None)
        state = await p.api.get("/v1/me/access")
    name = state.get("patient_name") or p._("Patient")
    return (User(name="", acting_name=name) if p.acting else User(name=name)), state


T = TypeVar("T")


class Names:
    """The header's name per session, remembered for `ttl_s` (a name changed at the registry shows within it):
    keyed by a hash of the session cookie, at most `size` sessions (all forgotten when full). `now`: injectable."""

    def __init__(self, ttl_s: float = 60.0, size: int = 20_000, now: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s, self.size, self.now = ttl_s, size, now
        self._names: dict[bytes, tuple[float, str]] = {}

    @staticmethod
    def key(session: str) -> bytes:
        return hashlib.sha256(b"dsp-portal-name\x1f" + session.encode()).digest()

    def get(self, session: str) -> str | None:
        found = self._names.get(self.key(session))
        return found[1] if found and found[0] > self.now() else None

    def put(self, session: str, name: str) -> None:
        if len(self._names) >= self.size:
            self._names.clear()
        self._names[self.key(session)] = (self.now() + self.ttl_s, name)


def names_of(p: Page) -> Names:
    state = p.request.app.state
    names: Names | None = getattr(state, "portal_names", None)
    if names is None:
        names = state.portal_names = Names()
    return names


async def header(p: Page, read: Callable[[], Awaitable[T]]) -> tuple[User, T]:
    """The header's user and the page's own `read`, for a page that shows no access state: without asking access
    for the whole state on every page. Acting on another's DSP: `patient` first, as before (access decides, and a
    DSP one may no longer act on takes them back to their own). On one's own: the read first — its answer proves
    the session good in this very request (an ended session is a 401 there: the login page) — then the name,
    remembered per session (`Names`); not remembered, or no API call answered (nothing read): `patient`."""
    if p.acting:
        user, _state = await patient(p)
        return user, await read()
    result = await read()
    session = p.api.cookies.get("dsp_session")
    name = names_of(p).get(session) if session and p.api.answered else None
    if name is not None:
        return User(name=name), result
    user, state = await patient(p)
    if session and state.get("patient_name"):
        names_of(p).put(session, state["patient_name"])
    return user, result


class Forbidden(Exception):
    """A form without this browser's CSRF token, or from another site."""


def field(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""
