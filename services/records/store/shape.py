"""What a stored document leaves out, and gets back when read. FerretDB's cost of a write grows with the fields
and array items a document holds (its JSON keeps a type for each): 500 lab results as folded in memory took 170 ms
to insert, 94 ms without `current` (the last of `versions`, stored twice), less again without their search words
(the list entries hold them)."""

from __future__ import annotations

from typing import Any, cast

from ..domain.documents import Document

DERIVED = ("current", "tokens")  # what a stored lab result leaves out; `loaded` gives `current` back


def stored(doc: Document) -> dict[str, Any]:
    """A document as written: no search words, and no `current` where it is the last of `versions` (an upload
    has no versions: its `current` holds its file)."""
    left_out = DERIVED if doc.get("versions") else ("tokens",)
    return {k: v for k, v in doc.items() if k not in left_out}


def loaded(doc: dict[str, Any]) -> Document:
    """A document as read: `current` is the last of its versions (the order `domain.documents.apply` keeps)."""
    if "current" not in doc and doc.get("versions"):
        doc["current"] = doc["versions"][-1]
    return cast(Document, doc)
