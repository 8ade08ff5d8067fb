"""notify's MongoDB collections (`NotifyStore`, the `protocol.Store` on MongoDB) — the only module of notify that
touches them. Every hot-path query is an `_id` lookup (or `{_id: {$in: [...]}}`) or a unique-insert claim: fast
on FerretDB and MongoDB alike.

`outbox`: one entry per notification request (its `_id`) and per document notice (`doc-<uuid>`), with its
status and, for in-app ones, the text shown. `inbox`: one document per person (`_id` = the recipient's
matricule) listing their delivered in-app notices — `entries.<key>` = {id, at (delivered at), read_at once
read}, `key` the notice id with '%', '.' and '$' percent-encoded — so that the list and its unread count are
one `_id` read, then the page's texts one `$in` read of the outbox. `contacts`: where to reach each person (the
registry's, and `preferred`: the channel and address chosen at activation), and the language they last asked for.

An entry is (re)written with field-level `$set` of its id and delivery time (never of `read_at`) after its
outbox notice is stored, every time the notice is delivered or redelivered: a crash between the two writes is
repaired by the redelivery, and a repeat changes nothing. FerretDB's updates are read-modify-write (not
atomic): this process writes a person's inbox one write at a time (`_turn`); notify runs as one replica.
New deployments only: notices stored before the inbox existed are not listed (no rebuild from the outbox)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.kit.projection import upsert
from services.kit.turns import Turns

from ..domain.listing import aware
from .protocol import CHANNELS

SHOWN = {"template_id": 1, "subject": 1, "body": 1}
CHUNK = 500  # ids per `$in` (FerretDB pushes down at most 10,000)


def field_key(notice_id: str) -> str:
    """A notice id as one field name: '.' would be a path and '$' an operator; '%' keeps the encoding one-to-one."""
    return notice_id.replace("%", "%25").replace(".", "%2E").replace("$", "%24")


def _newest_first(entries: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    shown = [e for e in entries.values() if isinstance(e, dict) and "id" in e and "at" in e]
    return sorted(shown, key=lambda e: (aware(e["at"]), e["id"]), reverse=True)


class NotifyStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.outbox, self.contacts, self.inbox = db["outbox"], db["contacts"], db["inbox"]
        self._turn = Turns()  # one inbox write at a time per person in this process

    # --- delivery (service/delivery.py, service/documents.py)

    async def claim(self, entry: dict[str, Any]) -> dict[str, Any] | None:
        """Insert `entry` under its `_id`; None if it is new, else the entry stored first."""
        try:
            await self.outbox.insert_one(entry)
        except DuplicateKeyError:
            return await self.outbox.find_one({"_id": entry["_id"]}) or {}
        return None

    async def add_notice(self, entry: dict[str, Any]) -> bool:
        """Store a ready notice under its `_id` and list it; False if it already was (a redelivered event), which
        lists it again as first stored (repairing a crash between the two writes)."""
        existing = await self.claim(entry)
        await self.show(existing or entry)
        return existing is None

    async def show(self, notice: dict[str, Any]) -> None:
        """List a delivered in-app outbox notice on its recipient's inbox (idempotent; keeps a read mark)."""
        path = f"entries.{field_key(notice['_id'])}"
        fields = {f"{path}.id": notice["_id"], f"{path}.at": notice["received_at"]}
        async with self._turn(notice["recipient"]):
            try:
                await self.inbox.update_one({"_id": notice["recipient"]}, {"$set": fields}, upsert=True)
            except DuplicateKeyError:  # another writer created the inbox first: now it is there
                await self.inbox.update_one({"_id": notice["recipient"]}, {"$set": fields})

    async def record(self, entry_id: str, fields: dict[str, Any]) -> None:
        await self.outbox.update_one({"_id": entry_id}, {"$set": fields})

    async def contact(self, matricule: str) -> dict[str, Any]:
        return await self.contacts.find_one({"_id": matricule}) or {}

    async def keep_contact(self, matricule: str, fields: dict[str, Any], first_seen: dict[str, Any]) -> None:
        await upsert(self.contacts, matricule, fields, first_seen)

    async def keep_preference(self, matricule: str, chosen: dict[str, Any]) -> None:
        """The channel (and address) the person chose at activation; the registry's fields are left as they are."""
        await self.contacts.update_one({"_id": matricule}, {"$set": {"preferred": chosen}}, upsert=True)

    async def remember_locale(self, matricule: str, locale: str) -> None:
        await self.contacts.update_one({"_id": matricule}, {"$set": {"locale": locale}}, upsert=True)

    # --- the notification list (service/inbox.py)

    async def _entries(self, recipient: str) -> list[dict[str, Any]]:
        """The person's listed notices, newest first (delivered at, then id)."""
        found = await self.inbox.find_one({"_id": recipient})
        return _newest_first((found or {}).get("entries") or {})

    async def page(self, recipient: str, unread_only: bool, after: tuple[datetime, str] | None,
                   limit: int) -> list[dict[str, Any]]:
        """Up to `limit` notices newest first, strictly after the position `after` (received_at, _id)."""
        entries = [e for e in await self._entries(recipient) if not (unread_only and "read_at" in e)]
        if after is not None:
            at, last = aware(after[0]), after[1]
            entries = [e for e in entries if (aware(e["at"]), e["id"]) < (at, last)]
        chosen = entries[:limit]
        texts = {n["_id"]: n async for n in self.outbox.find({"_id": {"$in": [e["id"] for e in chosen]}}, SHOWN)
                 } if chosen else {}
        return [{**texts[e["id"]], "received_at": e["at"], "read": "read_at" in e} for e in chosen
                if e["id"] in texts]

    async def unread(self, recipient: str) -> int:
        return sum(1 for e in await self._entries(recipient) if "read_at" not in e)

    async def mark_read(self, recipient: str, ids: list[str] | None, at: datetime) -> int:
        """Mark the person's unread notices `ids` (None: all) read; how many changed. The outbox notices first,
        then the inbox: a crash between leaves them unread in the list, and marking again completes it."""
        async with self._turn(recipient):
            wanted = None if ids is None else set(ids)
            changed = [e["id"] for e in await self._entries(recipient)
                       if "read_at" not in e and (wanted is None or e["id"] in wanted)]
            for i in range(0, len(changed), CHUNK):
                await self.outbox.update_many({"_id": {"$in": changed[i: i + CHUNK]}},
                                              {"$set": {"read": True, "read_at": at}})
            if changed:
                await self.inbox.update_one({"_id": recipient}, {"$set": {
                    f"entries.{field_key(notice_id)}.read_at": at for notice_id in changed}})
        return len(changed)

    # --- the console's counts (service/stats.py)

    async def counts(self) -> dict[str, Any]:
        count = self.outbox.count_documents
        return {"letters_sent": await count({"template_id": "activation-code", "status": "delivered"}),
                "channels": {ch: {"delivered": await count({"channel": ch, "status": "delivered"}),
                                  "failed": await count({"channel": ch, "status": "failed"})} for ch in CHANNELS}}
