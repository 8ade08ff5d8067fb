"""Command plumbing shared by the services that apply commands (access, activation): publishers, deterministic
ids, and the outcome log that answers a redelivered command.

- `Publish`: a broker publisher's `publish` (what a service's `Publishers` holds, one per topic it writes);
- `Ids`: ids derived from a service's namespace, so a redelivered command yields the same outcome, event and
  notice ids and consumers de-duplicate on them;
- `recent_outcome` / `remember`: the last outcomes applied to one aggregate (a patient, an account) are kept
  with it; a redelivered command finds its own and is answered identically, never applied twice;
- `send`: an event published with its `event-id` header, keyed by its aggregate."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

Publish = Callable[..., Awaitable[Any]]
Entry = dict[str, Any]  # {"command_id", "outcome", ...}: as stored with the aggregate


@dataclass(frozen=True)
class Ids:
    namespace: uuid.UUID

    def of(self, *parts: str) -> str:
        """The same parts always give the same id (a UUID 5 of the parts joined by `:`)."""
        return str(uuid.uuid5(self.namespace, ":".join(parts)))


def recent_outcome(recent: list[Entry], command_id: str) -> Entry | None:
    """The entry this command left when it was applied, if it is among the recent ones."""
    return next((entry for entry in recent if entry["command_id"] == command_id), None)


def remember(recent: list[Entry], entry: Entry, keep: int) -> list[Entry]:
    """`recent` with `entry` added, the oldest dropped beyond `keep`."""
    return [*recent, entry][-keep:]


async def send(publish: Publish, event: BaseModel, key: str) -> None:
    """Publish `event` (its JSON form) under `key`, with its `event_id` as the `event-id` header."""
    body = event.model_dump(mode="json")
    await publish(body, key=key.encode(), headers={"event-id": body["event_id"]})
