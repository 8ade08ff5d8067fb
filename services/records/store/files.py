"""records' files (lab result attachments, patient uploads) in GridFS, by deterministic ids."""

from __future__ import annotations

from typing import Any

from gridfs.asynchronous import AsyncGridFSBucket
from gridfs.errors import FileExists, NoFile
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


class Files:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.bucket = AsyncGridFSBucket(db, bucket_name="files")
        self.meta = db["files.files"]

    async def put(self, file_id: str, data: bytes, content_type: str) -> None:
        try:
            await self.bucket.upload_from_stream_with_id(file_id, file_id, data,
                                                         metadata={"content_type": content_type})
        except (FileExists, DuplicateKeyError):
            pass  # stored before a crash: the same bytes under the same deterministic id

    async def size(self, file_id: str) -> int | None:
        found = await self.meta.find_one({"_id": file_id}, {"length": 1})
        return int(found["length"]) if found else None

    async def sizes(self, file_ids: list[str]) -> dict[str, int]:
        if not file_ids:
            return {}
        return {f["_id"]: int(f["length"]) async for f in self.meta.find({"_id": {"$in": sorted(set(file_ids))}},
                                                                        {"length": 1})}

    async def read(self, file_id: str) -> bytes | None:
        try:
            stream = await self.bucket.open_download_stream(file_id)
        except NoFile:
            return None
        return bytes(await stream.read())
