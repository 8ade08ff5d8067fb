"""MongoDB client factory (pymongo's AsyncMongoClient; works against MongoDB and FerretDB)."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient


def make_client(uri: str, app_name: str) -> AsyncMongoClient[dict[str, Any]]:
    return AsyncMongoClient(
        uri,
        appname=f"dsp-{app_name}",
        tz_aware=True,
        uuidRepresentation="standard",
        serverSelectionTimeoutMS=5_000,
        connectTimeoutMS=5_000,
        retryWrites=False,  # FerretDB v1 has no retryable writes; idempotency comes from unique keys
    )
