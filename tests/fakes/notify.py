"""notify's store in memory (the `services.notify.store.protocol.Store` Protocol), and doubles of its delivery
channels that record what they were given (`Mailbox`, `Phone`, `Letters`); each can refuse (`Refused`) or be
unreachable (ConnectionError) for the next sends. Documents are copied in and out, as a database would."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.notify.service.channels import Refused
from services.notify.store.protocol import CHANNELS

Doc = dict[str, Any]


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


class FakeNotifyStore:
    def __init__(self) -> None:
        self.outbox: dict[str, Doc] = {}
        self.inbox: dict[str, dict[str, Doc]] = {}  # recipient -> notice id -> {id, at, read_at once read}
        self.contacts: dict[str, Doc] = {}

    async def claim(self, entry: Doc) -> Doc | None:
        if entry["_id"] in self.outbox:
            return copy.deepcopy(self.outbox[entry["_id"]])
        self.outbox[entry["_id"]] = copy.deepcopy(entry)
        return None

    async def add_notice(self, entry: Doc) -> bool:
        existing = await self.claim(entry)
        await self.show(existing or entry)
        return existing is None

    async def show(self, notice: Doc) -> None:
        listed = self.inbox.setdefault(notice["recipient"], {}).setdefault(notice["_id"], {})
        listed.update({"id": notice["_id"], "at": notice["received_at"]})

    async def record(self, entry_id: str, fields: Doc) -> None:
        if entry_id in self.outbox:
            self.outbox[entry_id].update(copy.deepcopy(fields))

    async def contact(self, matricule: str) -> Doc:
        return copy.deepcopy(self.contacts.get(matricule, {}))

    async def keep_contact(self, matricule: str, fields: Doc, first_seen: Doc) -> None:
        if matricule not in self.contacts:
            self.contacts[matricule] = {"_id": matricule, **copy.deepcopy(first_seen)}
        self.contacts[matricule].update(copy.deepcopy(fields))

    async def keep_preference(self, matricule: str, chosen: Doc) -> None:
        self.contacts.setdefault(matricule, {"_id": matricule})["preferred"] = copy.deepcopy(chosen)

    async def remember_locale(self, matricule: str, locale: str) -> None:
        self.contacts.setdefault(matricule, {"_id": matricule})["locale"] = locale

    def _entries(self, recipient: str) -> list[Doc]:
        return sorted(self.inbox.get(recipient, {}).values(), key=lambda e: (_aware(e["at"]), e["id"]), reverse=True)

    async def page(self, recipient: str, unread_only: bool, after: tuple[datetime, str] | None,
                   limit: int) -> list[Doc]:
        entries = [e for e in self._entries(recipient) if not (unread_only and "read_at" in e)]
        if after is not None:
            entries = [e for e in entries if (_aware(e["at"]), e["id"]) < (_aware(after[0]), after[1])]
        return [{**{k: self.outbox[e["id"]].get(k) for k in ("_id", "template_id", "subject", "body")},
                 "received_at": e["at"], "read": "read_at" in e} for e in entries[:limit] if e["id"] in self.outbox]

    async def unread(self, recipient: str) -> int:
        return sum(1 for e in self._entries(recipient) if "read_at" not in e)

    async def mark_read(self, recipient: str, ids: list[str] | None, at: datetime) -> int:
        changed = [e for e in self._entries(recipient) if "read_at" not in e and (ids is None or e["id"] in ids)]
        for e in changed:
            e["read_at"] = at
            if e["id"] in self.outbox:
                self.outbox[e["id"]].update({"read": True, "read_at": at})
        return len(changed)

    async def counts(self) -> Doc:
        def count(**match: str) -> int:
            return sum(1 for e in self.outbox.values() if all(e.get(k) == v for k, v in match.items()))

        return {"letters_sent": count(template_id="activation-code", status="delivered"),
                "channels": {ch: {"delivered": count(channel=ch, status="delivered"),
                                  "failed": count(channel=ch, status="failed")} for ch in CHANNELS}}


class _Channel:
    def __init__(self) -> None:
        self.sent: list[tuple[str, ...]] = []
        self.refuse = 0  # the next n sends are refused by the provider
        self.down = 0  # the next n sends find the provider unreachable

    def _attempt(self) -> None:
        if self.down:
            self.down -= 1
            raise ConnectionError("provider unreachable")
        if self.refuse:
            self.refuse -= 1
            raise Refused("provider refused the message")


class Mailbox(_Channel):
    """The SMTP server's double: (to, subject, body, reference) per e-mail sent."""

    async def send(self, to: str, subject: str, body: str, reference: str) -> None:
        self._attempt()
        self.sent.append((to, subject, body, reference))


class Phone(_Channel):
    """The SMS gateway's double: (to, text, reference) per SMS sent."""

    async def send(self, to: str, text: str, reference: str) -> None:
        self._attempt()
        self.sent.append((to, text, reference))


class Letters(_Channel):
    """The letter printer's double: (reference, address lines joined, subject, body, recipient_ref) per letter."""

    async def print(self, reference: str, address: list[str], subject: str, body: str, when: datetime,
                    recipient_ref: str) -> Path:
        self._attempt()
        self.sent.append((reference, "\n".join(address), subject, body, recipient_ref))
        return Path(f"{reference}.pdf")
