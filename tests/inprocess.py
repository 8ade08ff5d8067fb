"""A worker run inside the test process (a thread with its own event loop) so that the test owns its clock:
time rules are tested by moving a FakeClock, never by sleeping. Kafka and MongoDB are the real ones."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from faststream.asgi import AsgiFastStream


def settings_from(cls: Any, env: dict[str, str]) -> Any:
    """A service's settings built from `env` (its DSP_* variables), without touching the process environment;
    notify's test keypair is added when neither `env` nor the environment names notify's keys, access's test audit
    keys likewise, and the service's own MongoDB user when the test infrastructure made one
    (`tests.support.with_mongo_user`)."""
    import pytest

    from tests.support import (
        with_fixed_service_keys,
        with_mongo_user,
        with_test_audit_keys,
        with_test_kafka_credentials,
        with_test_notify_keys,
    )

    with pytest.MonkeyPatch.context() as mp:
        env = with_test_kafka_credentials(cls.service, env)  # its own Kafka principal on the secured local broker
        env = with_test_audit_keys(cls.service, env)  # access's audit keys, one pair per database prefix
        for k, v in with_mongo_user(cls.service, with_test_notify_keys(with_fixed_service_keys(cls.service,
                                                                                             env))).items():
            mp.setenv(k, v)
        return cls()


async def file_ready(path: Path) -> bool:
    """A probe for `eventually`: the file exists and is not empty."""
    return path.exists() and path.stat().st_size > 0  # noqa: ASYNC240 - a test probe on a local file


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = (start or datetime.now(UTC)).replace(microsecond=0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self.now += timedelta(**delta)
            return self.now

    def set(self, at: datetime) -> None:
        with self._lock:
            self.now = at


class InProcessWorker:
    def __init__(self, app: AsgiFastStream, port: int, audience: str | None = None) -> None:
        """`audience`: the service's name, so that `http` calls its internal API as the gateway does."""
        self.app, self.port, self.audience = app, port, audience
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                                    lifespan="on", timeout_graceful_shutdown=10))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self, within_s: float = 60.0) -> InProcessWorker:
        self.thread.start()
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if self.http("GET", "/health/ready")[0] == 200:
                return self
            time.sleep(0.2)
        raise AssertionError(f"in-process worker on port {self.port} not ready within {within_s}s")

    def http(self, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
        from tests.support import as_caller

        headers = {"content-type": "application/json", **(as_caller("gateway", self.audience) if self.audience else {})}
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - a fixed http:// URL
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()
        except OSError:
            return 0, ""

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
