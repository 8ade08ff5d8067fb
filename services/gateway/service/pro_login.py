"""A professional's login: the identity provider's assertion checked (`pro_assertion.py`) and used once (its `jti`
remembered, `store/sessions.py`), the professional listed and active in access's directory, then a server-side
session opened (this browser's previous one, if any, ended)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

from schemas.access import ProfessionalGet

from ..clients import AccessClient
from ..pro_assertion import AssertionRefused, check_assertion
from ..problems import Refusal
from ..store.sessions import Opened, ProStore


class LoggedIn(NamedTuple):
    professional: str
    session: Opened


async def login(access: AccessClient, store: ProStore, key: bytes, assertion: str,
                previous: str | None) -> LoggedIn:
    try:
        claims = check_assertion(key, assertion, store.clock().timestamp())
    except AssertionRefused as refused:
        raise Refusal(401, refused.reason) from None
    if not await store.use_assertion(claims.jti, claims.subject, datetime.fromtimestamp(claims.expires, UTC)):
        raise Refusal(401, "assertion already used")
    listed = await access.professional(ProfessionalGet(professional_id=claims.subject))
    if not listed.listed:
        raise Refusal(403, "not listed in the professional directory")
    if not listed.active:
        raise Refusal(403, "no longer active in the professional directory")
    await store.revoke(previous)
    return LoggedIn(claims.subject, await store.open(claims.subject))
