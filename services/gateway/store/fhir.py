"""The FHIR door's own data, in the gateway's database (`<prefix>_gateway`), and its registered clients.

- `fhir_tokens`: the bearer tokens handed out by the token endpoint. The client holds a random token
  (`secrets.token_urlsafe(32)`); only its SHA-256 is stored (`_id`) with the professional it acts for, its scopes,
  its client and its end (5 minutes): the database alone opens nothing, and a token is never logged nor sent on Kafka.
- `fhir_client_assertions`: every SMART client assertion already used (`_id` = `<client>|<jti>`), kept until it has
  expired — a replay is a duplicate `_id`, the one claim FerretDB makes reliably, whichever replica sees it.
  (The identity provider's assertions are remembered where `/v1/pro/login` remembers them: one use in all.)
- `fhir_documents`: which DSP a document id belongs to (`_id` = the document id, `pid` = the patient's opaque FHIR id,
  never the matricule), learned from the documents a search answered. A read by id (`DocumentReference/{id}`,
  `Binary/{id}`) carries no patient; this is how the gateway knows whose DSP to ask access about. An id never
  answered by a search is a 404 (like an unknown one).

The registered clients (`Clients`) are the agency's word, read once from a JSON file
(`DSP_GATEWAY_FHIR_CLIENTS_FILE`): a list of `{"client_id", "jwks", "professionals", "scopes"}`.
Every lookup is by `_id`; expiry is checked here against the injected clock. A token is never withdrawn before it
ends, so each replica remembers the grants it issued or looked up until they end (bounded: `GRANTS_MAX`)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from services.kit.runtime import Clock, utc_now

from ..fhir.smart import TOKEN_TTL_S, Client, Grant

log = structlog.get_logger("dsp.gateway.fhir")
DUPLICATE = 11000
KNOWN_MAX = 100_000  # document ids this process knows are indexed (skips a write per search)
GRANTS_MAX = 10_000  # live tokens' grants remembered by this process (a few MB at most)


def digest(token: str) -> str:
    return hashlib.sha256(b"dsp-fhir-token\x1f" + token.encode()).hexdigest()


class GroupWrite:
    """Writes of `{key: value}` that callers await, merged: at most one write in flight; the ones asked meanwhile
    go together in the next, as soon as it ends (no fixed wait). Each caller learns its own write's outcome."""

    def __init__(self, flush: Callable[[dict[str, str]], Awaitable[None]]) -> None:
        self.flush = flush
        self.waiting: list[tuple[dict[str, str], asyncio.Future[None]]] = []
        self.running: asyncio.Task[None] | None = None

    async def write(self, rows: dict[str, str]) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append((rows, done))
        if self.running is None:
            self.running = asyncio.create_task(self._run())
        await asyncio.shield(done)  # a caller that gives up does not cancel the others' write

    async def _run(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting, []
                merged: dict[str, str] = {}
                for rows, _ in batch:
                    merged.update(rows)
                try:
                    await self.flush(merged)
                except Exception as exc:  # noqa: BLE001 - handed to each caller of this batch
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                else:
                    for _, done in batch:
                        if not done.done():
                            done.set_result(None)
        finally:
            self.running = None


def load_clients(path: str | None) -> dict[str, Client]:
    """The registered SMART clients (none without a file); a malformed file fails at start, naming the entry."""
    if not path:
        return {}
    found: dict[str, Client] = {}
    for n, entry in enumerate(json.loads(Path(path).read_text(encoding="utf-8"))):
        try:
            client = Client(str(entry["client_id"]), dict(entry["jwks"]), frozenset(entry["professionals"]),
                            frozenset(entry["scopes"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}: client {n} lacks {exc}") from None
        found[client.client_id] = client
    return found


class FhirStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], clock: Clock = utc_now) -> None:
        self.tokens, self.assertions = db["fhir_tokens"], db["fhir_client_assertions"]
        self.documents, self.clock = db["fhir_documents"], clock
        self._known: set[str] = set()
        self._writes = GroupWrite(self._insert_owners)
        self._grants: dict[str, tuple[Grant, datetime]] = {}  # token digest -> (grant, end), looked up or issued
        self._purged: datetime | None = None

    async def use_client_assertion(self, client_id: str, jti: str, expires: datetime) -> bool:
        """Remember a client assertion's jti; False if it was already used (a replay)."""
        try:
            await self.assertions.insert_one({"_id": f"{client_id}|{jti}", "expires": expires,
                                              "used_at": self.clock()})
        except DuplicateKeyError:
            return False
        return True

    async def issue(self, grant: Grant) -> tuple[str, int]:
        """A new bearer token for `grant` and its lifetime in seconds."""
        token, now = secrets.token_urlsafe(32), self.clock()
        await self.tokens.insert_one({"_id": digest(token), "professional": grant.professional,
                                      "scopes": sorted(grant.scopes), "client_id": grant.client_id,
                                      "issued": now, "expires": now + timedelta(seconds=TOKEN_TTL_S)})
        self._remember_grant(digest(token), grant, now + timedelta(seconds=TOKEN_TTL_S))
        return token, TOKEN_TTL_S

    async def grant(self, token: str) -> Grant | None:
        """What a live token carries, or None (unknown, expired). A token is never withdrawn before its end, so
        the grant found is remembered until then (`_grants`): a practice's software searching with the same token
        costs the database one read per replica, not one per request."""
        if not 20 <= len(token) <= 128:
            return None
        key, now = digest(token), self.clock()
        remembered = self._grants.get(key)
        if remembered is not None:
            if now < remembered[1]:
                return remembered[0]
            del self._grants[key]
            return None
        found = await self.tokens.find_one({"_id": key})
        if found is None or now >= found["expires"]:
            return None
        grant = Grant(str(found["professional"]), frozenset(found["scopes"]), found.get("client_id"))
        self._remember_grant(key, grant, found["expires"])
        return grant

    def _remember_grant(self, key: str, grant: Grant, expires: datetime) -> None:
        if len(self._grants) >= GRANTS_MAX:  # memory bounded: forgotten ones are read again
            now = self.clock()
            self._grants = {k: g for k, g in self._grants.items() if now < g[1]}
            if len(self._grants) >= GRANTS_MAX:
                self._grants.clear()
        self._grants[key] = (grant, expires)

    async def remember(self, pid: str, documents: Iterable[str]) -> None:
        """Note whose DSP each document answered by a search is in (first writer wins; the same answer anyway),
        stored before this returns. The searches under way share one insert (`_writes`): while one is written,
        the next ones gather, and go together as soon as it ends — one database write for many searches."""
        fresh = [d for d in documents if d not in self._known]
        if not fresh:
            return
        await self._writes.write({d: pid for d in fresh})
        if len(self._known) > KNOWN_MAX:
            self._known.clear()
        self._known.update(fresh)

    async def _insert_owners(self, owners: dict[str, str]) -> None:
        try:
            await self.documents.insert_many([{"_id": d, "pid": p} for d, p in owners.items()], ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != DUPLICATE for e in exc.details.get("writeErrors", [])):
                raise

    async def owner(self, document: str) -> str | None:
        """The opaque patient id of a document's DSP, if a search ever answered it."""
        found = await self.documents.find_one({"_id": document})
        return str(found["pid"]) if found else None

    def purge_due(self) -> bool:
        """True at most once every 10 minutes (a purge then runs after a token is issued)."""
        now = self.clock()
        if self._purged is not None and now - self._purged < timedelta(minutes=10):
            return False
        self._purged = now
        return True

    async def purge(self) -> None:
        """Forget expired tokens and the client assertions that can no longer be replayed (they have expired)."""
        now = self.clock()
        try:
            await self.tokens.delete_many({"expires": {"$lte": now}})
            await self.assertions.delete_many({"expires": {"$lt": now - timedelta(minutes=5)}})
        except PyMongoError as exc:  # a later purge does it; never fails a token request
            log.warning("purging FHIR tokens failed", error=type(exc).__name__)
