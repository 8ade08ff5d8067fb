"""The console's store in memory (the `services.console.store.protocol.Store` Protocol): operators, sessions, login
failures and the audit trail, copied in and out as a database would."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

Doc = dict[str, Any]


class FakeConsoleStore:
    def __init__(self) -> None:
        self.operator_docs: dict[str, Doc] = {}
        self.sessions: dict[str, Doc] = {}
        self.failures: dict[str, Doc] = {}
        self.audit: dict[str, Doc] = {}

    async def insert_operator(self, doc: Doc) -> bool:
        if doc["_id"] in self.operator_docs:
            return False
        self.operator_docs[doc["_id"]] = copy.deepcopy(doc)
        return True

    async def replace_operator(self, doc: Doc) -> bool:
        replaced = doc["_id"] in self.operator_docs
        self.operator_docs[doc["_id"]] = copy.deepcopy(doc)
        return replaced

    async def delete_operator(self, name: str) -> bool:
        return self.operator_docs.pop(name, None) is not None

    async def operator(self, name: str) -> Doc | None:
        return copy.deepcopy(self.operator_docs.get(name))

    async def operators(self) -> list[Doc]:
        return [{k: v for k, v in copy.deepcopy(d).items() if k not in ("password_hash", "epoch")}
                for d in self.operator_docs.values()]

    async def insert_session(self, doc: Doc) -> None:
        assert doc["_id"] not in self.sessions, "a session id is never reused"
        self.sessions[doc["_id"]] = copy.deepcopy(doc)

    async def session(self, session_id: str) -> Doc | None:
        return copy.deepcopy(self.sessions.get(session_id))

    async def update_session(self, session_id: str, fields: Mapping[str, Any]) -> None:
        if session_id in self.sessions:
            self.sessions[session_id].update(copy.deepcopy(dict(fields)))

    async def delete_sessions_of(self, operator: str) -> None:
        self.sessions = {k: s for k, s in self.sessions.items() if s["operator"] != operator}

    async def purge_sessions(self, expired_before: datetime) -> None:
        self.sessions = {k: s for k, s in self.sessions.items() if s["expires"] >= expired_before}

    async def login_failures(self, name: str) -> Doc | None:
        return copy.deepcopy(self.failures.get(name))

    async def put_login_failures(self, doc: Doc) -> None:
        self.failures[doc["_id"]] = copy.deepcopy(doc)

    async def clear_login_failures(self, name: str) -> None:
        self.failures.pop(name, None)

    async def purge_login_failures(self, last_before: datetime) -> None:
        self.failures = {k: f for k, f in self.failures.items() if f["last"] >= last_before}

    async def append_audit(self, entry: Doc) -> None:
        assert entry["_id"] not in self.audit
        self.audit[entry["_id"]] = copy.deepcopy(entry)

    async def complete_audit(self, entry_id: str, fields: Mapping[str, Any]) -> None:
        self.audit[entry_id].update(copy.deepcopy(dict(fields)))
