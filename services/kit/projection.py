"""Idempotent writes keyed on a contract's natural id: redelivery converges on the same document."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

DUPLICATE_KEY = 11000


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


async def insert_many_once(collection: AsyncCollection[dict[str, Any]], docs: list[dict[str, Any]]) -> set[int]:
    """One unordered insert of `docs` (each a unique-`_id` claim): the indexes of those another writer stored
    first, returned, not raised; any other write error is raised."""
    if not docs:
        return set()
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(err.get("code") != DUPLICATE_KEY for err in errors):
            raise
        return {err["index"] for err in errors}
    return set()
