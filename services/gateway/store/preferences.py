"""The gateway's own store of each person's portal preferences, in its database `<prefix>_gateway`:

- `preferences`: `_id` = the SHA-256 of the person's matricule (the database alone names no one), `language`
  (fr, de or en) and when it was last set. One document per person, read and written by `_id` only."""

from __future__ import annotations

import hashlib
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from services.kit.runtime import Clock, utc_now


class Unavailable(Exception):
    """The database did not answer."""


def key(matricule: str) -> str:
    return hashlib.sha256(matricule.encode()).hexdigest()


class PreferenceStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], clock: Clock = utc_now) -> None:
        self.preferences, self.clock = db["preferences"], clock

    async def get(self, matricule: str) -> dict[str, Any]:
        try:
            found = await self.preferences.find_one({"_id": key(matricule)})
        except PyMongoError as exc:
            raise Unavailable() from exc
        return {"language": found["language"]} if found and found.get("language") else {}

    async def set(self, matricule: str, language: str) -> None:
        try:
            await self.preferences.update_one({"_id": key(matricule)},
                                              {"$set": {"language": language, "updated_at": self.clock()}},
                                              upsert=True)
        except PyMongoError as exc:
            raise Unavailable() from exc
