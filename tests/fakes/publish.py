"""A recording publisher: what a service would have sent to Kafka, in order."""

from __future__ import annotations

from typing import Any


class Sent:
    """A stand-in for a broker publisher's `publish`; `sent` keeps (body, key, headers) in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[dict[str, Any], bytes | None, dict[str, str]]] = []

    async def __call__(self, body: dict[str, Any], key: bytes | None = None,
                      headers: dict[str, str] | None = None) -> None:
        self.sent.append((body, key, dict(headers or {})))

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [body for body, _, _ in self.sent]
