"""MongoDB client factory (pymongo's AsyncMongoClient; works against MongoDB and FerretDB)."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from pymongo import AsyncMongoClient


def make_client(uri: str, app_name: str, username: str | None = None, password: SecretStr | None = None,
                auth_source: str = "admin") -> AsyncMongoClient[dict[str, Any]]:
    """A client of `uri`; as `username` (SCRAM, users defined in `auth_source`) when given, which overrides any
    credentials in the URI; otherwise as the URI says (none, or its own)."""
    auth: dict[str, Any] = {}
    if username is not None and password is not None:
        auth = {"username": username, "password": password.get_secret_value(), "authSource": auth_source}
    return AsyncMongoClient(
        uri,
        appname=f"dsp-{app_name}",
        tz_aware=True,
        uuidRepresentation="standard",
        serverSelectionTimeoutMS=5_000,
        connectTimeoutMS=5_000,
        retryWrites=False,  # FerretDB v1 has no retryable writes; idempotency comes from unique keys
        **auth,
    )
