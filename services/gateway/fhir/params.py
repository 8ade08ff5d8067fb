"""FHIR search parameters (pure): what a search URL asks for, checked, and the filters it means.

Only what the door serves is accepted; any other parameter is refused (a 400) rather than ignored — software
filtering on something unheard would show the wrong documents. Dates follow FHIR's prefixes on the value's own
precision (`date=ge2026-11`, `date=lt2026-11-20T08:00:00Z`; a date without a zone is UTC); tokens are
`system|code`, `|code` or `code`, a comma meaning "or". `_count` is 1-100 (20 by default; 0 counts only),
`_offset` is where a page starts in the list the caller may see — `next` links carry it."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

IGNORED = frozenset({"_format", "_pretty"})  # presentation only: the answer is JSON either way
DEFAULT_COUNT, MAX_COUNT, MAX_OFFSET = 20, 100, 100_000
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
                  r"(Z|[+-]\d{2}:\d{2})?)?)?)?$")


class BadParameter(ValueError):
    """A search the door cannot answer as asked (400, `code`: invalid or not-supported)."""

    def __init__(self, reason: str, code: str = "invalid") -> None:
        super().__init__(reason)
        self.reason, self.code = reason, code


@dataclass(frozen=True)
class Query:
    """A search's parameters: `values[name]` = every value given (repeats are AND), in the order sent."""

    values: dict[str, list[str]]

    @classmethod
    def of(cls, pairs: Sequence[tuple[str, str]], allowed: Sequence[str]) -> Query:
        values: dict[str, list[str]] = {}
        for name, value in pairs:
            if name in IGNORED:
                continue
            if name not in allowed and name not in ("_count", "_offset"):
                raise BadParameter(f"search parameter {name!r} is not supported here "
                                   f"(supported: {', '.join(allowed)}, _count)", "not-supported")
            values.setdefault(name, []).append(value)
        return cls(values)

    def one(self, name: str) -> str | None:
        found = self.values.get(name, [])
        if len(found) > 1:
            raise BadParameter(f"{name} may be given once")
        return found[0] if found else None

    def count(self) -> int:
        return _bounded(self.one("_count"), "_count", DEFAULT_COUNT, 0, MAX_COUNT)

    def offset(self) -> int:
        return _bounded(self.one("_offset"), "_offset", 0, 0, MAX_OFFSET)

    def url(self, base: str, path: str, **changed: str | int) -> str:
        pairs = [(k, v) for k, vs in self.values.items() if k not in changed for v in vs]
        pairs += [(k, str(v)) for k, v in changed.items()]
        return f"{base}/{path}?{urlencode(pairs)}" if pairs else f"{base}/{path}"


def _bounded(text: str | None, name: str, default: int, low: int, high: int) -> int:
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise BadParameter(f"{name} must be a whole number from {low} to {high}")
    return int(text)


def reference_id(text: str, resource: str) -> str:
    """`<id>`, `<resource>/<id>` or `<base>/<resource>/<id>` → the id."""
    tail = text.rsplit("/", 2)
    if len(tail) >= 2 and tail[-2] != resource:
        raise BadParameter(f"expected a reference to a {resource}")
    return tail[-1]


def date_filter(value: str) -> Callable[[datetime], bool]:
    """One `date` value → a test on an instant."""
    prefix = value[:2] if value[:2] in PREFIXES else "eq"
    text = value[2:] if value[:2] in PREFIXES else value
    if prefix in ("ne", "sa", "eb", "ap"):
        raise BadParameter(f"date prefix {prefix!r} is not supported (eq, gt, ge, lt, le)", "not-supported")
    low, high = _range(text)
    tests: dict[str, Callable[[datetime], bool]] = {
        "eq": lambda t: low <= t < high, "ge": lambda t: t >= low, "gt": lambda t: t >= high,
        "le": lambda t: t < high, "lt": lambda t: t < low}
    return tests[prefix]


def _range(text: str) -> tuple[datetime, datetime]:
    """The instants a date value covers, [low, high), at its own precision."""
    m = DATE.match(text)
    if m is None:
        raise BadParameter("a date is YYYY, YYYY-MM, YYYY-MM-DD or a date and time (with a prefix: ge2026-11-01)")
    year, month, day, hour, minute, second, zone = m.groups()
    try:
        if hour is not None and minute is not None:
            at = datetime.fromisoformat(f"{year}-{month}-{day}T{hour}:{minute}:{second or '00'}"
                                        + ("+00:00" if zone in (None, "Z") else zone))
            return at, at + (timedelta(seconds=1) if second else timedelta(minutes=1))
        if day is not None:
            low = datetime(int(year), int(month or 1), int(day), tzinfo=UTC)
            return low, low + timedelta(days=1)
        if month is not None:
            low = datetime(int(year), int(month), 1, tzinfo=UTC)
            return low, (low + timedelta(days=32)).replace(day=1)
        return datetime(int(year), 1, 1, tzinfo=UTC), datetime(int(year) + 1, 1, 1, tzinfo=UTC)
    except ValueError:
        raise BadParameter("not a valid date") from None


def dates(query: Query, name: str = "date") -> Callable[[datetime | None], bool]:
    """Every `date` value must hold (repeats are AND: `date=ge2026-01&date=lt2027-01`)."""
    tests = [date_filter(v) for v in query.values.get(name, [])]
    return lambda t: not tests or (t is not None and all(test(t.astimezone(UTC)) for test in tests))


def tokens(query: Query, name: str) -> Callable[[str | None, str], bool]:
    """`name`'s values as a test on (system, code): every value must match, a comma within one is "or"."""
    wanted = [[_token(part) for part in v.split(",")] for v in query.values.get(name, [])]

    def matches(system: str | None, code: str) -> bool:
        return all(any((s is None or s == (system or "")) and c == code for s, c in alternatives)
                   for alternatives in wanted)
    return matches


def _token(text: str) -> tuple[str | None, str]:
    if "|" in text:
        system, code = text.split("|", 1)
        return system, code
    return None, text
