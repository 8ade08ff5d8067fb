"""The use case "the console's login slow-down" (the rule: `domain.slowdown`), in `<prefix>_console.login_failures`
(through `store.protocol.Store`): `_id` = a name that was typed; consecutive failures and the time before the next
attempt is answered. There is never a lock: after 3 failures each attempt waits 2, 4, 8 … at most 60 seconds (429
with Retry-After), whoever types — a stranger can slow an operator down, never lock them out. Lookups by `_id`; all
time comes from `clock`."""

from __future__ import annotations

import math
from datetime import datetime

import structlog

from services.kit.runtime import Clock, utc_now
from services.kit.turns import Turns

from ..domain.operators import PURGE_EVERY
from ..domain.slowdown import FORGET_FAILURES, delay_after
from ..store.protocol import Store

log = structlog.get_logger("dsp.console.auth")
class LoginThrottle:
    """Per typed name (known or not, so that the answer tells nothing about which names exist). FerretDB's
    read-modify-write is not atomic, so this replica also runs the attempts for one name one at a time (`turn`):
    a burst of parallel guesses cannot all pass before the first failure is counted."""

    def __init__(self, store: Store, clock: Clock = utc_now) -> None:
        self.store, self.clock = store, clock
        self._purged: datetime | None = None
        self.turn = Turns()  # bounded: only names with an attempt in progress

    async def wait_s(self, name: str) -> int:
        """Seconds before an attempt for `name` is answered (0: now)."""
        doc = await self.store.login_failures(name)
        if doc is None or doc.get("until") is None:
            return 0
        left = (doc["until"] - self.clock()).total_seconds()
        return math.ceil(left) if left > 0 else 0

    async def failed(self, name: str) -> int:
        now = self.clock()
        doc = await self.store.login_failures(name)
        count = 1 if doc is None or now - doc["last"] > FORGET_FAILURES else int(doc["count"]) + 1
        wait = delay_after(count)
        await self.store.put_login_failures({"_id": name, "count": count, "last": now,
                                             "until": now + wait if wait else None})
        if self._purged is None or now - self._purged >= PURGE_EVERY:  # names typed once, long ago
            self._purged = now
            try:
                await self.store.purge_login_failures(now - FORGET_FAILURES)
            except Exception as exc:  # noqa: BLE001 - a later purge does it
                log.warning("purging login failures failed", error=type(exc).__name__)
        return count

    async def succeeded(self, name: str) -> None:
        await self.store.clear_login_failures(name)
