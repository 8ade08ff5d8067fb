"""The use case "the console operators' audit trail", in `<prefix>_console.audit` (through `store.protocol.Store`):
every login, logout, payload view (masked or not) and replay, with the authenticated operator, written before the
action's effect is shown or done."""

from __future__ import annotations

import uuid
from typing import Any

from services.kit.runtime import Clock, utc_now

from ..store.protocol import Store


class Audit:
    def __init__(self, store: Store, clock: Clock = utc_now) -> None:
        self.store, self.clock = store, clock

    async def record(self, action: str, operator: str | None, **fields: Any) -> str:
        """Written before the action's effect is shown or done: no audit, no payload and no replay."""
        entry_id = uuid.uuid4().hex
        await self.store.append_audit({"_id": entry_id, "action": action, "operator": operator, "at": self.clock(),
                                       **fields})
        return entry_id

    async def complete(self, entry_id: str, **fields: Any) -> None:
        await self.store.complete_audit(entry_id, fields)
