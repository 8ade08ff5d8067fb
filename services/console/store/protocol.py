"""The seam below the console's operators, sessions, login slow-down and audit trail (`auth.py`, `throttle.py`,
`audit.py`): the `Store` Protocol (`mongo.ConsoleStore` on MongoDB, `tests.fakes.console.FakeConsoleStore` in
memory). Every lookup is by `_id` (the only query FerretDB answers fast); expiry is the callers' (FerretDB has no
TTL index), so the purges take the time before which a document is gone."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

Doc = dict[str, Any]


class Store(Protocol):
    # operators: `_id` = the name, role, password_hash, epoch, created_at
    async def insert_operator(self, doc: Doc) -> bool:
        """Create an operator; False: the name is taken (nothing written)."""

    async def replace_operator(self, doc: Doc) -> bool:
        """Create or replace an operator; True: one was replaced."""

    async def delete_operator(self, name: str) -> bool: ...

    async def operator(self, name: str) -> Doc | None: ...

    async def operators(self) -> list[Doc]:
        """Every operator without its password hash and epoch."""

    # sessions: `_id` = the SHA-256 of the browser's token
    async def insert_session(self, doc: Doc) -> None: ...

    async def session(self, session_id: str) -> Doc | None: ...

    async def update_session(self, session_id: str, fields: Mapping[str, Any]) -> None: ...

    async def delete_sessions_of(self, operator: str) -> None: ...

    async def purge_sessions(self, expired_before: datetime) -> None: ...

    # login failures: `_id` = a name that was typed
    async def login_failures(self, name: str) -> Doc | None: ...

    async def put_login_failures(self, doc: Doc) -> None: ...

    async def clear_login_failures(self, name: str) -> None: ...

    async def purge_login_failures(self, last_before: datetime) -> None: ...

    # the operators' audit trail
    async def append_audit(self, entry: Doc) -> None: ...

    async def complete_audit(self, entry_id: str, fields: Mapping[str, Any]) -> None: ...
