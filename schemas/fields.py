"""Field types shared by every contract: matricule, identifiers, safe text."""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, PlainSerializer, StringConstraints
from stdnum import luhn, verhoeff

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _no_control_chars(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain NUL or other control characters")
    return value


def matricule_birth_date(value: str) -> date:
    """The birth date encoded in the first eight digits (YYYYMMDD)."""
    return date(int(value[0:4]), int(value[4:6]), int(value[6:8]))


def check_matricule(value: str) -> str:
    """13 digits YYYYMMDDNNNCV: a real birth date, C = Luhn and V = Verhoeff of the first 11 digits."""
    wrong = _matricule_fault(value)
    if wrong:
        raise ValueError(wrong)
    return value


@functools.lru_cache(maxsize=65_536)  # a patient's matricule comes back with each result: checked once
def _matricule_fault(value: str) -> str | None:
    if not re.fullmatch(r"\d{13}", value):
        return "matricule must be exactly 13 digits"
    try:
        matricule_birth_date(value)
    except ValueError:
        return "matricule does not start with a valid birth date (YYYYMMDD)"
    base = value[:11]
    if luhn.calc_check_digit(base) != value[11] or verhoeff.calc_check_digit(base) != value[12]:
        return "matricule check digits do not match (Luhn, Verhoeff)"
    return None


Matricule = Annotated[
    str,
    AfterValidator(check_matricule),
    Field(description="National identification number YYYYMMDDNNNCV (13 digits, Luhn + Verhoeff checked)",
          examples=["1893120105732"]),
]

IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
"""The one identifier rule (directory ids, document ids, actors, template names); `Identifier` below checks it."""

Identifier = Annotated[
    str,
    StringConstraints(pattern=IDENTIFIER_PATTERN),
    Field(description="Identifier: 1-64 characters of A-Z a-z 0-9 . _ - (no ':' — it separates key parts)"),
]

MESSAGE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
"""Message and command ids (an identifier that may hold ':'); `MessageId` below checks it."""

MessageId = Annotated[
    str,
    StringConstraints(pattern=MESSAGE_ID_PATTERN),
    Field(description="Producer-unique message id: 1-128 characters of A-Z a-z 0-9 . _ : -"),
]


ShortText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, strip_whitespace=True),
    AfterValidator(_no_control_chars),
]
"""Free text up to 200 characters, trimmed, without control characters."""


def rfc3339(value: datetime) -> str:
    """`value` as RFC 3339 in UTC with a `Z`, to the millisecond (a naive datetime is taken as UTC, as stored)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


UtcDateTime = Annotated[
    AwareDatetime,
    PlainSerializer(rfc3339, return_type=str, when_used="json"),
    Field(description="RFC 3339 date-time in UTC, e.g. 2026-11-22T07:57:31.154Z",
          examples=["2026-11-22T07:57:31.154Z"]),
]
"""The one date-time format of every read API: RFC 3339, UTC, `Z`."""
