"""The FHIR door's own data, in the gateway's database (`<prefix>_gateway`), and its registered clients.

- `fhir_tokens`: the bearer tokens handed out by the token endpoint. The client holds a random token
  (`secrets.token_urlsafe(32)`); only its SHA-256 is stored (`_id`) with the professional it acts for, its scopes,
  its client and its end (5 minutes): the database alone opens nothing, and a token is never logged nor sent on Kafka.
- `fhir_client_assertions`: every SMART client assertion already used (`_id` = `<client>|<jti>`), kept until it has
  expired — a replay is a duplicate `_id`, the one claim FerretDB makes reliably, whichever replica sees it.
  (The identity provider's assertions are remembered where `/v1/pro/login` remembers them: one use in all.)

Which DSP a document is in (for a read by id) is records' to say (`/v1/documents/owner`); the `fhir_documents`
collection that noted it from the searches' answers is no longer read nor written (an old one can be dropped).

The registered clients (`Clients`) are the agency's word, read once from a JSON file
(`DSP_GATEWAY_FHIR_CLIENTS_FILE`): a list of `{"client_id", "jwks", "professionals", "scopes"}`.
Every lookup is by `_id`; expiry is checked here against the injected clock. A token is never withdrawn before it
ends, so each replica remembers the grants it issued or looked up until they end (bounded: `GRANTS_MAX`)."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from services.kit.runtime import Clock, utc_now

from ..fhir.smart import TOKEN_TTL_S, Client, Grant

log = structlog.get_logger("dsp.gateway.fhir")
GRANTS_MAX = 10_000  # live tokens' grants remembered by this process (a few MB at most)


def digest(token: str) -> str:
    return hashlib.sha256(b"dsp-fhir-token\x1f" + token.encode()).hexdigest()


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
        self.clock = clock
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
