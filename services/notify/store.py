"""notify's MongoDB collections — the only module of notify that touches them.

`outbox`: one entry per notification request (its `_id`) and per document notice (`doc-<uuid>`), with its
status; the in-app ones that were delivered are the person's notification list. `contacts`: where to reach each
person (the registry's), and the language they last asked for."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.kit.projection import upsert

CHANNELS = ("email", "sms", "letter", "inapp")
NEWEST_FIRST = [("received_at", DESCENDING), ("_id", DESCENDING)]


def inbox(recipient: str) -> dict[str, Any]:
    """The notices a person's notification list shows: in-app, delivered."""
    return {"recipient": recipient, "channel": "inapp", "status": "delivered"}


class NotifyStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.outbox, self.contacts = db["outbox"], db["contacts"]

    async def ensure_indexes(self) -> None:
        """The list (and its unread filter and count) is an index range, newest first: equality on recipient,
        channel, status (and read), then the sort key, which is also the cursor."""
        inbox_key = [("recipient", ASCENDING), ("channel", ASCENDING), ("status", ASCENDING)]
        await self.outbox.create_index([*inbox_key, *NEWEST_FIRST], name="inbox")
        await self.outbox.create_index([*inbox_key, ("read", ASCENDING), *NEWEST_FIRST], name="inbox_unread")

    # --- delivery (service.py)

    async def claim(self, entry: dict[str, Any]) -> dict[str, Any] | None:
        """Insert `entry` under its `_id`; None if it is new, else the entry stored first."""
        try:
            await self.outbox.insert_one(entry)
        except DuplicateKeyError:
            return await self.outbox.find_one({"_id": entry["_id"]}) or {}
        return None

    async def add_notice(self, entry: dict[str, Any]) -> bool:
        """Store a ready notice under its `_id`; False if it already was (a redelivered event)."""
        return await self.claim(entry) is None

    async def record(self, entry_id: str, fields: dict[str, Any]) -> None:
        await self.outbox.update_one({"_id": entry_id}, {"$set": fields})

    async def contact(self, matricule: str) -> dict[str, Any]:
        return await self.contacts.find_one({"_id": matricule}) or {}

    async def keep_contact(self, matricule: str, fields: dict[str, Any], first_seen: dict[str, Any]) -> None:
        await upsert(self.contacts, matricule, fields, first_seen)

    async def remember_locale(self, matricule: str, locale: str) -> None:
        await self.contacts.update_one({"_id": matricule}, {"$set": {"locale": locale}}, upsert=True)

    # --- the notification list (api.py)

    async def page(self, recipient: str, unread_only: bool, after: tuple[datetime, str] | None,
                   limit: int) -> list[dict[str, Any]]:
        """Up to `limit` notices newest first, strictly after the position `after` (received_at, _id)."""
        query = inbox(recipient)
        if unread_only:
            query["read"] = False
        if after is not None:
            at, last = after
            query["$or"] = [{"received_at": {"$lt": at}}, {"received_at": at, "_id": {"$lt": last}}]
        fields = {"template_id": 1, "subject": 1, "body": 1, "received_at": 1, "read": 1}
        return [n async for n in self.outbox.find(query, fields).sort(NEWEST_FIRST).limit(limit)]

    async def unread(self, recipient: str) -> int:
        return await self.outbox.count_documents({**inbox(recipient), "read": False})

    async def mark_read(self, recipient: str, ids: list[str] | None, at: datetime) -> int:
        """Mark the person's unread notices `ids` (None: all) read; how many changed."""
        query: dict[str, Any] = {**inbox(recipient), "read": False}
        if ids is not None:
            query["_id"] = {"$in": ids}
        result = await self.outbox.update_many(query, {"$set": {"read": True, "read_at": at}})
        return result.modified_count

    # --- the console's counts (api.py)

    async def counts(self) -> dict[str, Any]:
        count = self.outbox.count_documents
        return {"letters_sent": await count({"template_id": "activation-code", "status": "delivered"}),
                "channels": {ch: {"delivered": await count({"channel": ch, "status": "delivered"}),
                                  "failed": await count({"channel": ch, "status": "failed"})} for ch in CHANNELS}}
