"""Languages: gettext catalogs (`locales/<lang>/LC_MESSAGES/*.po`, English message ids) read with Babel, and dates
and numbers written in the reader's locale. French is the default; German and English are the others.

The catalogs are compiled in memory at start-up (no binary `.mo` in the repository); every `.po` of a language is
one catalog (one file per group of pages, so the pages' owners edit apart)."""

from __future__ import annotations

import gettext
import io
from datetime import date, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LANGUAGES = {"fr": "Français", "de": "Deutsch", "en": "English"}
DEFAULT = "fr"
LOCALES = Path(__file__).parent / "locales"
ZONE = ZoneInfo("Europe/Luxembourg")
_BABEL = {"fr": "fr_LU", "de": "de_LU", "en": "en_GB"}


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The language's catalog; English (the message ids) needs none."""
    merged: gettext.NullTranslations = gettext.NullTranslations()
    for po in sorted((LOCALES / lang / "LC_MESSAGES").glob("*.po")) if lang != "en" else []:
        with po.open("rb") as f:
            catalog = read_po(f, locale=lang)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        part = gettext.GNUTranslations(buffer)
        if isinstance(merged, gettext.GNUTranslations):
            merged._catalog.update(part._catalog)  # type: ignore[attr-defined]
        else:
            merged = part
    return merged


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The person's choice (cookie), else the browser's first known language, else French."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return DEFAULT


def locale(lang: str) -> Locale:
    return Locale.parse(_BABEL[lang])


def when(value: str | datetime | None, lang: str, with_time: bool = True) -> str:
    """An RFC 3339 instant (or a date) as the reader writes it, in Luxembourg's time."""
    if not value:
        return ""
    if isinstance(value, str):
        if len(value) == 10:
            return format_date(date.fromisoformat(value), "medium", locale=locale(lang))
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not with_time:
        return format_date(value.astimezone(ZONE).date(), "medium", locale=locale(lang))
    return format_datetime(value.astimezone(ZONE), "medium", tzinfo=ZONE, locale=locale(lang))


def number(value: float | int | None, lang: str) -> str:
    return "" if value is None else format_decimal(value, locale=locale(lang))
