"""Break-the-glass, the rules beyond the contract's length. Pure: no I/O, `now` comes in.

- `justification_problem`: a justification must read like one — at least 3 different words (runs of two letters
  or more, any alphabet), at least 6 different letters, and no letter 4 times in a row ("aaaaaaaaaaaaaaa" passed
  the contract's 15 characters). The reason never repeats the text.
- `frequent`: the professionals who broke the glass on at least `THRESHOLD` different patients in the sliding
  `WINDOW` (24 h), for the operations console: professional id and counts only, never a patient.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

WORDS, LETTERS, RUN = 3, 6, 4
WORD = re.compile(r"[^\W\d_]{2,}")  # two letters or more, any alphabet (é, ß, ë ...)
REPEATED = re.compile(rf"([^\W\d_])\1{{{RUN - 1},}}")
WHY = "write why the emergency access is needed"
REPEATS = f"the justification repeats one letter: {WHY}"
FEW_WORDS = f"the justification needs at least {WORDS} different words: {WHY}"
FEW_LETTERS = f"the justification needs at least {LETTERS} different letters: {WHY}"

WINDOW, THRESHOLD = timedelta(hours=24), 3  # distinct patients in the sliding window that make a professional shown


def justification_problem(text: str) -> str | None:
    """Why this justification does not read like one, or None."""
    folded = text.casefold()
    if REPEATED.search(folded):
        return REPEATS
    if len(set(WORD.findall(folded))) < WORDS:
        return FEW_WORDS
    if len({c for c in folded if c.isalpha()}) < LETTERS:
        return FEW_LETTERS
    return None


@dataclass(frozen=True)
class Use:
    """One break-the-glass: who, on whose DSP, when."""

    professional_id: str
    patient: str
    at: datetime


@dataclass(frozen=True)
class Frequent:
    """A professional who breaks the glass unusually often (what the console shows: no patient)."""

    professional_id: str
    patients: int  # different patients in the window
    uses: int  # breaks of the glass in the window
    last_at: datetime


def frequent(uses: Iterable[Use], now: datetime, window: timedelta = WINDOW,
             threshold: int = THRESHOLD) -> list[Frequent]:
    """The professionals with breaks of the glass on at least `threshold` different patients in (now - window, now],
    most patients first (then most uses, then id)."""
    patients: dict[str, set[str]] = {}
    counts: dict[str, int] = {}
    last: dict[str, datetime] = {}
    for use in uses:
        if not now - window < use.at <= now:
            continue
        patients.setdefault(use.professional_id, set()).add(use.patient)
        counts[use.professional_id] = counts.get(use.professional_id, 0) + 1
        last[use.professional_id] = max(use.at, last.get(use.professional_id, use.at))
    found = [Frequent(pro, len(seen), counts[pro], last[pro]) for pro, seen in patients.items()
             if len(seen) >= threshold]
    return sorted(found, key=lambda f: (-f.patients, -f.uses, f.professional_id))
