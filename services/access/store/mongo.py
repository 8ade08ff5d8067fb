"""`AccessStore`, access's `Store` on MongoDB: its collections (patients, persons, professionals, grant ends,
first accesses, presence failures and passwords, breaks of the glass, commands' refusals and effects) and a method
per question."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.kit.projection import insert_many_once, insert_once, upsert

from ..domain.decisions import PatientAccess
from ..domain.directory import ProfessionalCard
from ..domain.emergency import Use
from . import changes
from .claims import UniqueInserts
from .protocol import RECENT_COMMANDS, PatientDoc, decode_access, decode_doc, encode_access

PRESENCE_KEEP = timedelta(hours=1)  # presence.WINDOW: wrong guesses older than twice that are deleted
GLASS_KEEP = timedelta(hours=48)  # twice emergency.WINDOW
# The audit's unique (patient, seq) index, dropped where an older access made it: `_id` = patient:seq is already
# unique, no query reads by those fields (FerretDB answers `_id` only), and on FerretDB each index is one more
# B-tree an audit commit writes (measured: docs/benchmarks.md, access).
AUDIT_OLD_INDEX = "patient_1_seq_-1"


class AccessStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.patients = db["patients"]
        self.changes = db["changes"]  # which patient changed when, read by `_id` range (store.changes)
        self.persons = db["persons"]
        self.professionals = db["professionals"]
        self.expiries = db["expiries"]  # grant ends the sweeper acts on
        self.audit = db["audit"]
        self.first_access = db["first_access"]
        self._first_claims = UniqueInserts(self.first_access)  # one per new patient-professional pair: grouped
        self.presence_failures = db["presence_failures"]
        self.done = db["effects_done"]  # command ids whose effects (audit, notices, events) all went out
        self.refusals = db["refusals"]  # outcomes of commands about unknown patients (no state to keep them in)
        self.presence_pending = db["presence_pending"]  # new presence-password hashes, by internal command id
        self.presence_redemptions = db["presence_redemptions"]  # passwords the API checked, by command id
        self.glass = db["emergency_uses"]  # breaks of the glass, `_id` = <hour>|<time>|<command id>: read by hour

    async def ensure_indexes(self) -> None:
        await self.expiries.create_index([("state", ASCENDING), ("ends_at", ASCENDING)])
        await self.patients.create_index([("updated_at", ASCENDING)])
        if AUDIT_OLD_INDEX in await self.audit.index_information():
            await self.audit.drop_index(AUDIT_OLD_INDEX)

    async def load(self, patient: str) -> PatientDoc:
        raw = await self.patients.find_one({"_id": patient})
        return decode_doc(raw) if raw else PatientDoc(patient)

    async def save(self, doc: PatientDoc, now: datetime) -> bool:
        """Write `doc` as version + 1 if nobody else wrote since it was loaded; False on a conflict."""
        await insert_once(self.changes, changes.marker(doc.patient, now))  # first: no saved state without one
        fields = {"version": doc.version + 1, "access": encode_access(doc.access), "presence_hash": doc.presence_hash,
                  "consents": doc.consents, "recent": doc.recent[-RECENT_COMMANDS:], "updated_at": now}
        if doc.version == 0:
            if not await insert_once(self.patients, {"_id": doc.patient, **fields}):
                return False
        else:
            result = await self.patients.update_one({"_id": doc.patient, "version": doc.version}, {"$set": fields})
            if result.matched_count == 0:
                return False
        doc.version += 1
        return True

    async def versions(self, since: datetime | None = None) -> AsyncIterator[tuple[str, int, PatientAccess, datetime]]:
        """Every patient's stored access state (changed since `since`, if given), for the in-memory view."""
        fields = {"version": 1, "access": 1, "updated_at": 1}
        now = datetime.now(UTC)  # the wall clock: where to stop looking for markers
        if since is None or now - since > changes.FULL_READ_AFTER:
            query = {} if since is None else {"updated_at": {"$gte": since}}  # a scan of every state, on FerretDB
            found: AsyncIterator[dict[str, Any]] = self.patients.find(query, fields)
        else:
            found = changes.by_ids(self.patients, await changes.changed_since(
                self.changes, since, max(now, since) + changes.AHEAD), fields)
        async for raw in found:
            yield raw["_id"], raw["version"], decode_access(raw["access"]), raw["updated_at"]

    async def version(self, patient: str) -> tuple[int, PatientAccess] | None:
        raw = await self.patients.find_one({"_id": patient}, {"version": 1, "access": 1})
        return (raw["version"], decode_access(raw["access"])) if raw else None

    async def put_professional(self, professional_id: str, fields: Mapping[str, Any], at: datetime) -> bool:
        """The directory's facts about a professional; True if access did not know them yet."""
        return await upsert(self.professionals, professional_id, dict(fields), {"listed_at": at})

    async def put_person(self, matricule: str, fields: Mapping[str, Any], at: datetime) -> bool:
        return await upsert(self.persons, matricule, dict(fields), {"registered_at": at})

    async def claim_first_access(self, marker: str, at: datetime) -> bool:
        """A unique insert: True for the first caller only (the patient is told of a first access once)."""
        return await self._first_claims.insert({"_id": marker, "at": at})

    async def release_first_access(self, marker: str) -> None:
        await self.first_access.delete_one({"_id": marker})

    async def prune_changes(self, now: datetime) -> int:
        return await changes.prune(self.changes, now)

    async def due_ends(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Grant ends the sweeper has not asked for yet whose time is up: {_id, patient, kind, subject, ends_at}."""
        return [raw async for raw in self.expiries.find({"state": "pending", "ends_at": {"$lte": now}}, limit=limit)]

    async def end_requested(self, end_id: str, at: datetime) -> None:
        await self.expiries.update_one({"_id": end_id}, {"$set": {"state": "requested", "requested_at": at}})

    async def person(self, matricule: str) -> dict[str, Any] | None:
        return await self.persons.find_one({"_id": matricule})

    async def persons_by_id(self, matricules: set[str]) -> dict[str, dict[str, Any]]:
        """Access's copy of these registry persons, by `_id` lookups (FerretDB scans for anything else)."""
        found = await asyncio.gather(*(self.person(m) for m in sorted(matricules)))
        return {raw["_id"]: raw for raw in found if raw is not None}

    async def professional_cards(self) -> AsyncIterator[ProfessionalCard]:
        """Every professional the directory listed, active or not (to name them in old grants and entries)."""
        async for raw in self.professionals.find({}):
            yield _card(raw)

    async def professional_card(self, professional_id: str) -> ProfessionalCard | None:
        raw = await self.professionals.find_one({"_id": professional_id})
        return _card(raw) if raw else None

    async def schedule_end(self, patient: str, kind: str, subject: str, ends_at: datetime) -> None:
        key = f"{patient}|{kind}|{subject}|{ends_at.isoformat()}"
        await self.expiries.update_one({"_id": key}, {"$setOnInsert": {
            "patient": patient, "kind": kind, "subject": subject, "ends_at": ends_at, "state": "pending"}},
            upsert=True)

    async def presence_failures_since(self, key: str, since: datetime) -> int:
        """An `_id` range (`<key>|<time>|<ref>`: answered from the `_id` index, on FerretDB too), counted here."""
        found = self.presence_failures.find({"_id": {"$gte": f"{key}|{_stamp(since)}~", "$lt": f"{key}|~"}},
                                            {"_id": 1})
        return len([raw async for raw in found])

    async def presence_failed(self, keys: list[str], at: datetime, ref: str) -> None:
        await insert_many_once(self.presence_failures, [{"_id": f"{key}|{_stamp(at)}|{ref}", "key": key, "at": at}
                                                        for key in keys])

    async def glass_broken(self, professional: str, patient: str, at: datetime, ref: str) -> None:
        await insert_once(self.glass, {"_id": f"{_hour(at)}|{_stamp(at)}|{ref}", "professional": professional,
                                       "patient": patient, "at": at})

    async def glass_broken_since(self, since: datetime, now: datetime) -> list[Use]:
        """Hour by hour, each an `_id` prefix range (FerretDB answers it from the `_id` index): a day is 26 reads."""
        found: list[Use] = []
        hour = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        while hour <= now + timedelta(hours=1):  # a replica's clock a little ahead: its next hour too
            key = _hour(hour)
            async for raw in self.glass.find({"_id": {"$gte": f"{key}|", "$lt": f"{key}}}"}}):
                at = raw["at"] if raw["at"].tzinfo else raw["at"].replace(tzinfo=UTC)
                if at > since:
                    found.append(Use(raw["professional"], raw["patient"], at))
            hour += timedelta(hours=1)
        return found

    async def prune_counters(self, now: datetime) -> int:
        """Scans of two small collections (hours of entries), once an hour from the sweeper."""
        guesses = await self.presence_failures.delete_many({"at": {"$lt": now - 2 * PRESENCE_KEEP}})
        glass = await self.glass.delete_many({"_id": {"$lt": f"{_hour(now - GLASS_KEEP)}|"}})
        return guesses.deleted_count + glass.deleted_count

    async def grant_counts(self, now: datetime) -> dict[str, int]:
        """For the operations console: time-limited grants running, ending within 24 hours, ended."""
        count = self.expiries.count_documents
        return {"active": await count({"state": "pending", "ends_at": {"$gt": now}}),
                "expiring_24h": await count({"state": "pending",
                                             "ends_at": {"$gt": now, "$lte": now + timedelta(hours=24)}}),
                "expired": await count({"state": {"$in": ["requested", "done"]}})}

    async def effects_done(self, command_id: str) -> bool:
        return await self.done.find_one({"_id": command_id}, {"_id": 1}) is not None

    async def mark_effects_done(self, command_id: str, at: datetime) -> None:
        await insert_once(self.done, {"_id": command_id, "at": at})

    async def first_refusal(self, command_id: str, outcome: dict[str, Any]) -> dict[str, Any]:
        """The outcome stored first for this command (a unique insert): the same one for every redelivery."""
        if await insert_once(self.refusals, {"_id": command_id, "outcome": outcome}):
            return outcome
        found = await self.refusals.find_one({"_id": command_id})
        return dict(found["outcome"]) if found else outcome

    async def put_pending_presence(self, command_id: str, password_hash: str, sealed: dict[str, str],
                                   at: datetime, patient: str) -> bool:
        """Keep a new password's hash (and its sealed letter) under the command that will apply it; False if that
        command already has one (the first stands: a redelivery never replaces the password)."""
        return await insert_once(self.presence_pending, {"_id": command_id, "hash": password_hash, "sealed": sealed,
                                                         "at": at, "patient": patient})

    async def pending_presence(self, command_id: str) -> dict[str, Any] | None:
        return await self.presence_pending.find_one({"_id": command_id})

    async def forget_sealed_presence(self, command_id: str) -> None:
        """Once the letter was requested, the sealed copy (openable by notify alone) is not kept either."""
        await self.presence_pending.update_one({"_id": command_id}, {"$set": {"sealed": {}}})

    async def put_redemption(self, command_id: str, patient: str, professional: str, at: datetime) -> None:
        await self.presence_redemptions.insert_one({"_id": command_id, "patient": patient,
                                                    "professional": professional, "at": at})

    async def redemption(self, command_id: str) -> dict[str, Any] | None:
        return await self.presence_redemptions.find_one({"_id": command_id})


def _hour(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%d%H")


def _stamp(at: datetime) -> str:
    """A time in an `_id`: UTC, fixed width, so that `_id` order is time order."""
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%f")


def _card(raw: dict[str, Any]) -> ProfessionalCard:
    return ProfessionalCard(raw["_id"], raw.get("given_name", ""), raw.get("family_name", ""),
                            raw.get("profession", ""), raw.get("specialty"), raw.get("practice_id"),
                            raw.get("active", True) is not False)
