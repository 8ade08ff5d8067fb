"""The seam below notify's use cases: the `Store` Protocol (`NotifyStore` in `mongo.py` on MongoDB,
`tests.fakes.notify.FakeNotifyStore` in memory). Notices are the outbox's documents (`Doc`): a request's entry
under its request id, a document notice under `doc-<uuid>`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

Doc = dict[str, Any]
CHANNELS = ("email", "sms", "letter", "inapp")


class Store(Protocol):
    """What the use cases (`service/`) need from notify's data."""

    # delivery (service/delivery.py, service/documents.py)
    async def claim(self, entry: Doc) -> Doc | None:
        """Insert `entry` under its `_id`; None if it is new, else the entry stored first."""
    async def add_notice(self, entry: Doc) -> bool:
        """Store a ready notice and list it; False if it already was (then listed again as first stored)."""
    async def show(self, notice: Doc) -> None:
        """List a delivered in-app notice on its recipient's list (idempotent; keeps a read mark)."""
    async def record(self, entry_id: str, fields: Doc) -> None: ...

    # contacts (service/contacts.py)
    async def contact(self, matricule: str) -> Doc: ...
    async def keep_contact(self, matricule: str, fields: Doc, first_seen: Doc) -> None: ...
    async def keep_preference(self, matricule: str, chosen: Doc) -> None: ...
    async def remember_locale(self, matricule: str, locale: str) -> None: ...

    # the notification list (service/inbox.py)
    async def page(self, recipient: str, unread_only: bool, after: tuple[datetime, str] | None,
                   limit: int) -> list[Doc]:
        """Up to `limit` notices newest first, strictly after the position `after` (received_at, _id): each
        with `_id`, `template_id`, `subject`, `body`, `received_at` (delivered at) and `read`."""
    async def unread(self, recipient: str) -> int: ...
    async def mark_read(self, recipient: str, ids: list[str] | None, at: datetime) -> int:
        """Mark the person's unread notices `ids` (None: all) read; how many changed."""

    # the console's counts (service/stats.py)
    async def counts(self) -> Doc:
        """Letters sent, and per channel (`CHANNELS`) the requests delivered and failed for good."""
