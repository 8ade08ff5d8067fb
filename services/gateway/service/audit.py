"""The patient's audit trail ('Traçabilité') as the portal shows it: access's page, each document read named by its
title (records', for the documents of this DSP)."""

from __future__ import annotations

from typing import Any

from schemas.access import ActorRef, PatientQuery
from schemas.portal_access import AuditEntry, AuditPage
from schemas.records_api import TitlesQuery

from ..calls import query
from ..context import Acting, Context


def reader(who: Acting, **fields: Any) -> PatientQuery:
    """access's query for what concerns `who`'s DSP, asked by the person logged in."""
    return query(PatientQuery, actor=ActorRef(kind="patient", id=who.user), patient=who.patient, **fields)


async def page(c: Context, who: Acting, cursor: str | None, limit: int) -> AuditPage:
    found = await c.clients.access.audit(reader(who, limit=limit, cursor=cursor))
    ids = sorted({e.document_id for e in found.items if e.document_id})
    titles = (await c.clients.records.titles(TitlesQuery(patient=who.patient, ids=ids))).titles if ids else {}
    return AuditPage(items=[AuditEntry(**dict(e), document_title=titles.get(e.document_id or ""))
                            for e in found.items], next_cursor=found.next_cursor)
