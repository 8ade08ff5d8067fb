"""The use case "a laboratory announced its keys" (`directory.laboratories.v1`, the consumer group's reader): merge
the announcement into the stored directory (`directory.Directory.listed`; `Rejected` for what it may not change),
then send on the results that waited for one of its keys (`ingest.Ingestor.release_key`)."""

from __future__ import annotations

from schemas.directory import LaboratoryListedV1

from .directory import Directory
from .ingest import Ingestor


class Announcements:
    def __init__(self, directory: Directory, ingest: Ingestor) -> None:
        self.directory, self.ingest = directory, ingest

    async def listed(self, listed: LaboratoryListedV1) -> None:
        lab = await self.directory.listed(listed)
        for key in lab.keys:
            await self.ingest.release_key(key.kid)
