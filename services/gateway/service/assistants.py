"""Who a matricule is, before a patient adds them as DSP assistant: access names a registered adult (anyone else:
the same 404). A matricule is easy to guess, so lookups are limited per person."""

from __future__ import annotations

from schemas.access import ActorRef, PersonLookup, PersonV1

from ..context import Context
from ..problems import Refusal


async def lookup(c: Context, user: str, matricule: str) -> PersonV1:
    if c.lookups is not None:
        if await c.lookups.exceeded(user):
            raise Refusal(429, "too many lookups; wait a few minutes", headers={"Retry-After": "600"},
                          retry_after_s=600)
        await c.lookups.count(user)
    return await c.clients.access.lookup(PersonLookup(actor=ActorRef(kind="patient", id=user), matricule=matricule))
