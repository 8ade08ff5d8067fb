"""Rate limits on the endpoints that take something guessable (passwords, one-time codes, presence passwords),
per client address and endpoint, in a sliding minute. Per gateway process: the services' own attempt limits
(5 tries per code, 5 failed logins) hold whatever the number of gateways."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

SENSITIVE = frozenset({"/v1/login", "/v1/login/verify", "/v1/activation/start", "/v1/activation/verify-otp",
                       "/v1/pro/login", "/v1/pro/presence-password"})


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute, self.clock = per_minute, clock
        self.calls: dict[tuple[str, str], deque[float]] = {}

    def allow(self, client: str, path: str) -> bool:
        now = self.clock()
        calls = self.calls.setdefault((client, path), deque())
        while calls and now - calls[0] >= 60:
            calls.popleft()
        if len(calls) >= self.per_minute:
            return False
        calls.append(now)
        if len(self.calls) > 100_000:  # forget idle clients
            self.calls = {k: v for k, v in self.calls.items() if v and now - v[-1] < 60}
        return True
