"""Idempotent writes keyed on a contract's natural id: redelivery converges on the same document."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError


async def upsert(collection: AsyncCollection[dict[str, Any]], doc_id: str, fields: dict[str, Any],
                 first_seen: dict[str, Any]) -> bool:
    """Set `fields` on document `doc_id` (creating it with `first_seen`); True if it was created."""
    result = await collection.update_one({"_id": doc_id}, {"$set": fields, "$setOnInsert": first_seen},
                                         upsert=True)
    return result.upserted_id is not None


async def insert_once(collection: AsyncCollection[dict[str, Any]], doc: dict[str, Any]) -> bool:
    """A unique insert (atomic on MongoDB and FerretDB alike): True if this call stored `doc`, False if a document
    with its `_id` was there first — the first writer wins, every later one is told so."""
    try:
        await collection.insert_one(doc)
    except DuplicateKeyError:
        return False
    return True
