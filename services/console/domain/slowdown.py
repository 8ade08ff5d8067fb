"""The console's login slow-down as a rule: how long a name waits after its consecutive failures (never a lock).
Pure: no I/O."""

from __future__ import annotations

from datetime import timedelta

FREE_FAILURES = 3  # failed logins for a name before its attempts are slowed down
MAX_DELAY = timedelta(seconds=60)
FORGET_FAILURES = timedelta(hours=1)  # a name's failure count starts again after an hour without one


def delay_after(failures: int) -> timedelta:
    """No wait for the first FREE_FAILURES failures, then 2, 4, 8 … seconds, at most MAX_DELAY."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(MAX_DELAY, timedelta(seconds=2 ** min(failures - FREE_FAILURES + 1, 16)))  # no overflow after days
