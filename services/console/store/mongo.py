"""The console's collections on MongoDB (`ConsoleStore`, the `protocol.Store`): `operators`, `sessions`,
`login_failures`, `audit`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from .protocol import Doc


class ConsoleStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._operators, self._sessions = db["operators"], db["sessions"]
        self._failures, self._audit = db["login_failures"], db["audit"]

    async def insert_operator(self, doc: Doc) -> bool:
        try:
            await self._operators.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def replace_operator(self, doc: Doc) -> bool:
        done = await self._operators.replace_one({"_id": doc["_id"]}, doc, upsert=True)
        return bool(done.matched_count)

    async def delete_operator(self, name: str) -> bool:
        done = await self._operators.delete_one({"_id": name})
        return done.deleted_count > 0

    async def operator(self, name: str) -> Doc | None:
        return await self._operators.find_one({"_id": name})

    async def operators(self) -> list[Doc]:
        return await self._operators.find({}, {"password_hash": False, "epoch": False}).to_list(None)

    async def insert_session(self, doc: Doc) -> None:
        await self._sessions.insert_one(doc)

    async def session(self, session_id: str) -> Doc | None:
        return await self._sessions.find_one({"_id": session_id})

    async def update_session(self, session_id: str, fields: Mapping[str, Any]) -> None:
        await self._sessions.update_one({"_id": session_id}, {"$set": dict(fields)})

    async def delete_sessions_of(self, operator: str) -> None:
        await self._sessions.delete_many({"operator": operator})

    async def purge_sessions(self, expired_before: datetime) -> None:
        await self._sessions.delete_many({"expires": {"$lt": expired_before}})

    async def login_failures(self, name: str) -> Doc | None:
        return await self._failures.find_one({"_id": name})

    async def put_login_failures(self, doc: Doc) -> None:
        await self._failures.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def clear_login_failures(self, name: str) -> None:
        await self._failures.delete_one({"_id": name})

    async def purge_login_failures(self, last_before: datetime) -> None:
        await self._failures.delete_many({"last": {"$lt": last_before}})

    async def append_audit(self, entry: Doc) -> None:
        await self._audit.insert_one(entry)

    async def complete_audit(self, entry_id: str, fields: Mapping[str, Any]) -> None:
        await self._audit.update_one({"_id": entry_id}, {"$set": dict(fields)})
