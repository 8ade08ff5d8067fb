"""What the patient's document screens share (the home page, the documents and the search, a document, the 'Ligne
de vie'): a document's codes — its status, its type, a version's change — in the reader's words, and an opaque cursor
taken from a link (not personal, at most 512 characters)."""

from __future__ import annotations

from typing import Any

from ..web import Page
from ._forms import _

STATUSES = {"preliminary": _("Preliminary"), "final": _("Final"), "corrected": _("Corrected"),
            "cancelled": _("Cancelled"), "active": _("Current"), "withdrawn": _("Withdrawn by the laboratory")}
CHANGES = {"added": _("Received"), "corrected": _("Correction"), "withdrawn": _("Withdrawal")}
TYPES = {"lab-result": _("Lab result"), "patient-upload": _("My upload")}


def _cursor(value: str | None) -> str | None:
    return value if value and len(value) <= 512 else None


def _labels(p: Page) -> dict[str, Any]:
    """What the templates need to put codes in words."""
    return {"statuses": {k: p._(v) for k, v in STATUSES.items()}, "types": {k: p._(v) for k, v in TYPES.items()},
            "changes": {k: p._(v) for k, v in CHANGES.items()}}
