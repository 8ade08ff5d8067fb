"""Kafka's passwords for compose, once: `python -m infra.kafka_secrets >> .env` (the admin's and one per principal;
`make run` keeps its own in the state folder instead)."""

from __future__ import annotations

import secrets

from .kafka_acls import PRINCIPALS


def lines() -> list[str]:
    return [f"DSP_KAFKA_ADMIN_PASSWORD={secrets.token_urlsafe(24)}",
            *[f"DSP_KAFKA_PASSWORD_{p.upper()}={secrets.token_urlsafe(24)}" for p in PRINCIPALS]]


if __name__ == "__main__":
    print("\n".join(lines()))
