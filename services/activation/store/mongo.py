"""activation's collections, and the only module that touches them. Every hot-path query is an `_id` lookup
or a unique-insert claim (fast on FerretDB and MongoDB alike).

- `accounts`: one document per matricule (state of the activation, hashes, one-time codes, trusted devices);
- `persons`: the registry's facts activation needs (names, address, contact);
- `attempts`: failure counts of guessable secrets, per kind and matricule (`<kind>:<matricule>`, with the
  `epoch` a reset moves on) and per kind, matricule and client (`<kind>:<matricule>@<epoch>:<keyed hash of the
  client's address>`: never the address) — also for matricules without an account, so answers and timing are
  the same for both;
- `tokens`: SHA-256 of the flow and login tokens given to browsers -> the matricule;
- `sessions`: SHA-256 of session tokens -> the matricule and the account's session generation it was opened
  under (`domain/account.py`: `end_every_session`); `challenges` / `challenges_used`: captchas and ALTCHA
  challenges."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

import structlog
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from services.kit.projection import insert_once

from ..domain.account import Account
from .protocol import Doc, attempt_id

log = structlog.get_logger("dsp.activation")


class ActivationStore:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.accounts, self.persons, self.attempts = db["accounts"], db["persons"], db["attempts"]
        self.tokens, self.sessions = db["tokens"], db["sessions"]
        self.challenges, self.challenges_used = db["challenges"], db["challenges_used"]

    # accounts and persons
    async def counts(self) -> dict[str, int]:
        """For the operations console: accounts activated, persons who ever opened a session."""
        return {"activated": await self.accounts.count_documents({"active": True}),
                "logged_in": len(await self.sessions.distinct("matricule"))}

    async def account(self, matricule: str) -> Account | None:
        return cast(Account | None, await self.accounts.find_one({"_id": matricule}))

    async def create_account(self, doc: Account) -> bool:
        return await insert_once(self.accounts, dict(doc))

    async def save_account(self, doc: Account) -> None:
        await self.accounts.replace_one({"_id": doc["_id"]}, dict(doc))

    async def set_account(self, matricule: str, fields: Mapping[str, Any]) -> None:
        await self.accounts.update_one({"_id": matricule}, {"$set": dict(fields)})

    async def person(self, matricule: str) -> Doc:
        return await self.persons.find_one({"_id": matricule}) or {}

    async def put_person(self, matricule: str, fields: Mapping[str, Any], first_seen: Doc) -> bool:
        result = await self.persons.update_one({"_id": matricule}, {"$set": dict(fields), "$setOnInsert": first_seen},
                                               upsert=True)
        return result.upserted_id is not None

    # failure counts
    async def attempt(self, kind: str, matricule: str, client: str | None = None) -> Doc:
        """The failures of `kind` on `matricule` (with the `epoch` of its resets), or of one `client` (an opaque
        key, `service/guard.py`: `Guards.client_key`) on it; none yet: 0."""
        found = await self.attempts.find_one({"_id": attempt_id(kind, matricule, client)})
        return found or {"failures": 0, "failed_at": None, "epoch": 0}

    async def put_attempt(self, kind: str, matricule: str, failures: int, failed_at: datetime | None,
                          client: str | None = None, epoch: int = 0) -> None:
        await self.attempts.replace_one({"_id": attempt_id(kind, matricule, client)},
                                        {"failures": failures, "failed_at": failed_at, "epoch": epoch}, upsert=True)

    # browser tokens (digests only)
    async def put_token(self, digest: str, matricule: str, kind: str, expires_at: datetime) -> None:
        await self.tokens.insert_one({"_id": digest, "matricule": matricule, "kind": kind, "expires_at": expires_at})

    async def token(self, digest: str, kind: str, now: datetime) -> str | None:
        found = await self.tokens.find_one({"_id": digest})
        if not found or found["kind"] != kind or now >= found["expires_at"]:
            return None
        return str(found["matricule"])

    async def drop_token(self, digest: str) -> None:
        await self.tokens.delete_one({"_id": digest})

    # sessions
    async def put_session(self, digest: str, matricule: str, now: datetime, expires_at: datetime,
                          generation: int) -> None:
        await self.sessions.insert_one({"_id": digest, "matricule": matricule, "created_at": now,
                                        "expires_at": expires_at, "revoked": False, "generation": generation})

    async def session(self, digest: str) -> Doc | None:
        return await self.sessions.find_one({"_id": digest})

    async def session_generation(self, matricule: str) -> int | None:
        """The account's session generation (an `_id` read of that one field), or None without an account."""
        found = await self.accounts.find_one({"_id": matricule}, {"session_generation": 1})
        return None if found is None else int(found.get("session_generation", 0))

    async def touch_session(self, digest: str, expires_at: datetime) -> None:
        await self.sessions.update_one({"_id": digest}, {"$set": {"expires_at": expires_at}})

    async def move_session(self, digest: str, generation: int) -> None:
        """Keep this session across an end of the others (the password change's own session)."""
        await self.sessions.update_one({"_id": digest}, {"$set": {"generation": generation}})

    async def revoke_session(self, digest: str) -> None:
        await self.sessions.update_one({"_id": digest}, {"$set": {"revoked": True}})

    # challenges
    async def put_challenge(self, challenge_id: str, answer: str, expires_at: datetime) -> None:
        await self.challenges.insert_one({"_id": challenge_id, "answer": answer, "expires_at": expires_at})

    async def challenge(self, challenge_id: str) -> Doc | None:
        return await self.challenges.find_one({"_id": challenge_id})

    async def use_challenge(self, challenge_id: str, expires_at: datetime) -> bool:
        """Single use: the first to claim it wins (a unique insert, atomic on MongoDB and FerretDB); the mark
        is kept as long as the challenge (`purge_challenges`)."""
        return await insert_once(self.challenges_used, {"_id": challenge_id, "expires_at": expires_at})

    async def purge_challenges(self, now: datetime) -> int:
        """Delete expired challenges and used marks (FerretDB has no TTL index; a scan of a small collection, not
        on a step's path); how many challenges went. A failure is logged, and the next purge tries again."""
        try:
            gone = await self.challenges.delete_many({"expires_at": {"$lte": now}})
            await self.challenges_used.delete_many({"expires_at": {"$lte": now}})
        except PyMongoError as exc:
            log.warning("purging expired challenges failed", error=type(exc).__name__)
            return 0
        return gone.deleted_count
