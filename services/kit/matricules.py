"""Where a matricule is written in free text, so that logs, dead-letter reasons and the console hide it. Pure.

Two shapes are found:
- thirteen digits in a row that start with a plausible birth date (years 1850-2099), check digits right or wrong:
  a mistyped matricule is as personal as a right one; millisecond timestamps (years 1000-1849 read that way) pass;
- thirteen digits written in groups joined by short separators — spaces (also no-break ones), dots, dashes, at most
  three of them between two groups: `1982 0101 123 80`, `198201.0112380`, `R-19820101-12380-x` — that form a valid
  matricule (a real birth date from 1850 on, the Luhn and the Verhoeff check digits). The check digits are what
  keeps ordinary numbers readable: a date, a time, lab values or offsets in a row are a matricule about once in a
  hundred tries when their digits happen to start with a date, never otherwise. Only whole groups count (the
  digits of a group are never split), and at least two of them (one group is the first shape's business).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from stdnum import luhn, verhoeff

DATE_LED = re.compile(r"(?<![0-9])(?:18[5-9][0-9]|19[0-9]{2}|20[0-9]{2})(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
                      r"[0-9]{5}(?![0-9])")
SEPARATORS = " .-\u00a0\u202f"  # space, dot, dash, no-break space, narrow no-break space
_GROUPS = re.compile(f"[0-9]+(?:[{re.escape(SEPARATORS)}]{{1,3}}[0-9]+)+")
_DIGITS = re.compile(r"[0-9]+")


def _valid(digits: str) -> bool:
    """A real birth date (1850-2099) and both check digits (as `schemas.fields.check_matricule`)."""
    if not DATE_LED.fullmatch(digits):
        return False
    try:
        date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:  # 31 April, 29 February of a common year
        return False
    base = digits[:11]
    return luhn.calc_check_digit(base) == digits[11] and verhoeff.calc_check_digit(base) == digits[12]


def spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) of every matricule written in `text`, in order, not overlapping."""
    found = [m.span() for m in DATE_LED.finditer(text)]
    for run in _GROUPS.finditer(text):
        groups = [(run.start() + g.start(), run.start() + g.end()) for g in _DIGITS.finditer(run.group())]
        i = 0
        while i < len(groups):
            count, j = 0, i
            while j < len(groups) and count < 13:
                count += groups[j][1] - groups[j][0]
                j += 1
            if count == 13 and j - i >= 2 and _valid("".join(text[s:e] for s, e in groups[i:j])):
                found.append((groups[i][0], groups[j - 1][1]))
                i = j  # its groups are taken
            else:
                i += 1
    found.sort()
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def replace(text: str, masked: Callable[[str], str]) -> str:
    """`text` with every matricule in it replaced by `masked(what was written)`."""
    found = spans(text)
    if not found:
        return text
    out, last = [], 0
    for start, end in found:
        out += [text[last:start], masked(text[start:end])]
        last = end
    out.append(text[last:])
    return "".join(out)


def redact(text: str, mask: str = "[REDACTED]") -> str:
    """Every matricule in `text` (in either shape) replaced by `mask`."""
    return replace(text, lambda _: mask)
