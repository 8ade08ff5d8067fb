"""The laboratory directory as records keeps it: each announcement of `directory.laboratories.v1` merged by the pure
rule (`domain.laboratories.merge`), stored (`laboratories`, `_id` = laboratory id) and held in memory. Every replica
reads the whole topic (no consumer group) into memory as well, and loads the store at start; a key id a replica does not
know is looked for in the store (`load`) before a result waits for it."""

from __future__ import annotations

import structlog

from schemas.directory import LaboratoryListedV1

from ..domain.documents import Rejected
from ..domain.laboratories import Laboratories, Laboratory, loaded, merge
from ..store.protocol import Store

log = structlog.get_logger("dsp.records.directory")


class Directory:
    def __init__(self, store: Store, laboratories: Laboratories) -> None:
        self.store, self.laboratories = store, laboratories

    async def load(self) -> int:
        """Every stored laboratory into memory (at start; again when a key id is not known here)."""
        found = [loaded(doc) for doc in await self.store.all_laboratories()]
        for lab in found:
            self.laboratories.put(lab)
        return len(found)

    async def listed(self, listed: LaboratoryListedV1) -> Laboratory:
        """Merge an announcement into the stored laboratory (Rejected: it asks what may not be), then into memory.
        The two are merged apart: this replica's memory may be ahead of the store (its reader without a group has
        read later announcements already) and must not go back (a revoked key active again, for a moment)."""
        stored = await self.store.laboratory(listed.laboratory_id)
        current = loaded(stored) if stored is not None else None
        lab = merge(current, listed, self.laboratories.owner)
        if lab != current:
            await self.store.put_laboratory(lab.stored())
        try:
            self.laboratories.apply(listed)
        except Rejected:
            pass  # memory is ahead: it has read a later announcement (a revocation) already
        log.info("laboratory listed", laboratory_id=lab.laboratory_id, keys=len(lab.keys),
                 active=sum(k.active for k in lab.keys))
        return lab

    def remember(self, listed: LaboratoryListedV1) -> None:
        """Merge an announcement into this replica's memory only (its reader without a group reads them all); one
        the rule refuses is left to the group's handler, which dead-letters it."""
        try:
            self.laboratories.apply(listed)
        except Rejected:
            pass
