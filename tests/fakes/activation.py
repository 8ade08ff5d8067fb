"""activation's store in memory (the `services.activation.store.protocol.Store` Protocol)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.activation.domain.account import Account
from services.activation.store.protocol import attempt_id

Doc = dict[str, Any]


class FakeActivationStore:
    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.persons: dict[str, Doc] = {}
        self.attempts: dict[str, Doc] = {}
        self.tokens: dict[str, Doc] = {}
        self.sessions: dict[str, Doc] = {}
        self.challenges: dict[str, Doc] = {}
        self.challenges_used: dict[str, datetime] = {}  # used challenge -> when its mark may go
        self.purges: list[datetime] = []
        self.reads: list[tuple[str, str]] = []  # (collection, _id) of the session check's reads

    async def counts(self) -> dict[str, int]:
        return {"activated": sum(1 for a in self.accounts.values() if a.get("active")),
                "logged_in": len({s["matricule"] for s in self.sessions.values()})}

    async def account(self, matricule: str) -> Account | None:
        found = self.accounts.get(matricule)
        return copy.deepcopy(found) if found is not None else None

    async def create_account(self, doc: Account) -> bool:
        if doc["_id"] in self.accounts:
            return False
        self.accounts[doc["_id"]] = copy.deepcopy(doc)
        return True

    async def save_account(self, doc: Account) -> None:
        if doc["_id"] in self.accounts:  # replace_one without upsert
            self.accounts[doc["_id"]] = copy.deepcopy(doc)

    async def set_account(self, matricule: str, fields: Mapping[str, Any]) -> None:
        if matricule in self.accounts:
            self.accounts[matricule].update(copy.deepcopy(fields))  # type: ignore[typeddict-item]

    async def person(self, matricule: str) -> Doc:
        return copy.deepcopy(self.persons.get(matricule, {}))

    async def put_person(self, matricule: str, fields: Mapping[str, Any], first_seen: Doc) -> bool:
        created = matricule not in self.persons
        self.persons.setdefault(matricule, {"_id": matricule, **first_seen}).update(copy.deepcopy(fields))
        return created

    async def attempt(self, kind: str, matricule: str, client: str | None = None) -> Doc:
        return dict(self.attempts.get(attempt_id(kind, matricule, client),
                                      {"failures": 0, "failed_at": None, "epoch": 0}))

    async def put_attempt(self, kind: str, matricule: str, failures: int, failed_at: datetime | None,
                          client: str | None = None, epoch: int = 0) -> None:
        self.attempts[attempt_id(kind, matricule, client)] = {"failures": failures, "failed_at": failed_at,
                                                               "epoch": epoch}

    async def put_token(self, digest: str, matricule: str, kind: str, expires_at: datetime) -> None:
        assert digest not in self.tokens, "a unique index"
        self.tokens[digest] = {"_id": digest, "matricule": matricule, "kind": kind, "expires_at": expires_at}

    async def token(self, digest: str, kind: str, now: datetime) -> str | None:
        found = self.tokens.get(digest)
        if not found or found["kind"] != kind or now >= found["expires_at"]:
            return None
        return str(found["matricule"])

    async def drop_token(self, digest: str) -> None:
        self.tokens.pop(digest, None)

    async def put_session(self, digest: str, matricule: str, now: datetime, expires_at: datetime,
                          generation: int) -> None:
        assert digest not in self.sessions, "a unique index"
        self.sessions[digest] = {"_id": digest, "matricule": matricule, "created_at": now,
                                 "expires_at": expires_at, "revoked": False, "generation": generation}

    async def session(self, digest: str) -> Doc | None:
        self.reads.append(("sessions", digest))
        found = self.sessions.get(digest)
        return dict(found) if found is not None else None

    async def session_generation(self, matricule: str) -> int | None:
        self.reads.append(("accounts", matricule))
        found = self.accounts.get(matricule)
        return None if found is None else int(found.get("session_generation", 0))

    async def touch_session(self, digest: str, expires_at: datetime) -> None:
        if digest in self.sessions:
            self.sessions[digest]["expires_at"] = expires_at

    async def move_session(self, digest: str, generation: int) -> None:
        if digest in self.sessions:
            self.sessions[digest]["generation"] = generation

    async def revoke_session(self, digest: str) -> None:
        if digest in self.sessions:
            self.sessions[digest]["revoked"] = True

    async def put_challenge(self, challenge_id: str, answer: str, expires_at: datetime) -> None:
        self.challenges[challenge_id] = {"_id": challenge_id, "answer": answer, "expires_at": expires_at}

    async def challenge(self, challenge_id: str) -> Doc | None:
        found = self.challenges.get(challenge_id)
        return dict(found) if found is not None else None

    async def use_challenge(self, challenge_id: str, expires_at: datetime) -> bool:
        if challenge_id in self.challenges_used:
            return False
        self.challenges_used[challenge_id] = expires_at
        return True

    async def purge_challenges(self, now: datetime) -> int:
        self.purges.append(now)
        gone = [cid for cid, doc in self.challenges.items() if doc["expires_at"] <= now]
        for cid in gone:
            del self.challenges[cid]
        for cid in [cid for cid, expires_at in self.challenges_used.items() if expires_at <= now]:
            del self.challenges_used[cid]
        return len(gone)
