"""access's reads for the portal (the use cases behind `api/reads.py`; the gateway calls them): the access state, the
audit trail, the patients of a professional and the DSPs a person assists — professionals and people named, dates in
RFC 3339 UTC (`Z`), lists cursor-paged (`{"items", "next_cursor"}`; a cursor this API did not give out is a 422).

The owner and their assistants read the state and the trail; the audit entries show who (named), what, when,
allowed or not and why, and a break-the-glass justification — the hash chain's internals (seq, hashes) only in
the outcome of `verify-audit-trail`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from schemas.access import (
    AccessStateV1,
    AssistantV1,
    AssistedPage,
    AssistedQuery,
    AssistedV1,
    AuditEntryV1,
    AuditPage,
    ConsentV1,
    GrantV1,
    PatientOfV1,
    PatientQuery,
    PatientsOfPage,
    ProfessionalQuery,
)
from schemas.fields import rfc3339
from services.kit.paging import BadCursor, encode_cursor

from ..domain import directory
from ..domain.audit import AuditEntry
from ..domain.decisions import Action, Actor, decide
from ..domain.planner import is_adult
from ..store import AuditTrail, PatientDoc, Store
from .answers import Answer, bad_cursor, key_position, keyset, ok, seq_position
from .effects import ms
from .names import Names
from .view import AccessView

LEGACY = ("patient", "seq", "at", "actor_kind", "actor_id", "action", "document", "allowed", "reason", "via")


class AccessReads:
    def __init__(self, store: Store, view: AccessView, audit: AuditTrail, names: Names,
                 clock: Callable[[], datetime]) -> None:
        self.store, self.view, self.audit, self.names, self.clock = store, view, audit, names, clock

    async def _refused(self, body: PatientQuery) -> Answer | None:
        """403 unless the actor manages the patient's DSP (the owner, an assistant)."""
        decision = await self.view.decide(Actor(body.actor.kind, body.actor.id), Action.MANAGE, body.patient,
                                          ms(self.clock()))
        return None if decision.allowed else (403, {"detail": decision.reason})

    async def access_state(self, body: PatientQuery) -> Answer:
        refused = await self._refused(body)
        if refused is not None:
            return refused
        return ok(await self.state(await self.store.load(body.patient)))

    async def state(self, doc: PatientDoc) -> AccessStateV1:
        access, names = doc.access, self.names
        people = await names.people([doc.patient, *access.assistants])
        guardians = (people.get(doc.patient) or {}).get("guardians", [])
        minor = not is_adult(doc.patient, ms(self.clock()))
        return AccessStateV1(
            patient=doc.patient, patient_name=directory.person_name(people.get(doc.patient)), version=doc.version,
            grants=[GrantV1(**names.professional(g.professional_id).model_dump(), kind=g.kind.value,
                            granted_at=g.granted_at, ends_at=g.ends_at) for g in access.grants.values()],
            referring_gp=names.professional(access.referring_gp) if access.referring_gp else None,
            blocked_professionals=[names.professional(p) for p in sorted(access.blocked_professionals)],
            blocked_documents=sorted(access.blocked_documents),
            assistants=[AssistantV1(matricule=m, name=directory.person_name(people.get(m)),
                                    kind=directory.assistant_kind(minor, m, guardians),
                                    since=access.assistant_since.get(m), ends_at=end)
                        for m, end in access.assistants.items()],
            emergency_refused=access.emergency_refused, presence_password=doc.presence_hash is not None,
            consents=[ConsentV1(**c) for c in doc.consents])

    async def audit_trail(self, body: PatientQuery) -> Answer:
        refused = await self._refused(body)
        if refused is not None:
            return refused
        try:
            before = seq_position(body.cursor) if body.cursor is not None else body.before_seq
        except BadCursor as exc:
            return bad_cursor(exc)
        entries = await self.audit.page(body.patient, before, body.limit)
        more = bool(entries) and entries[-1].seq > 0  # seqs run from 0: an entry above 0 has older ones
        people = await self.names.person_names(e.actor_id for e in entries if e.actor_kind == "patient")
        return ok(AuditPage(items=[self._entry(e, people) for e in entries],
                            next_cursor=encode_cursor("audit", entries[-1].seq) if more else None,
                            entries=[_legacy(e) for e in entries]))

    def _entry(self, entry: AuditEntry, people: dict[str, str | None]) -> AuditEntryV1:
        return AuditEntryV1(at=entry.at, who=self.names.actor(entry.actor_kind, entry.actor_id, people),
                            action=entry.action, document_id=entry.document, allowed=entry.allowed,
                            reason=entry.reason, justification=entry.justification or None)

    async def patients_of(self, body: ProfessionalQuery) -> Answer:
        """The patients whose DSP a professional may read now, with the grant, by matricule (from the view's
        index of the patients they hold a grant on)."""
        now, pro = ms(self.clock()), body.professional_id
        if not await self.view.professional_known(pro):
            return 404, {"detail": "unknown professional"}
        try:
            after = key_position(body.cursor, "patients-of")
        except BadCursor as exc:
            return bad_cursor(exc)
        def readable(patient: str) -> tuple[str, str, Any] | None:
            state = self.view.state(patient)
            decision = decide(state, Actor("professional", pro), Action.READ, patient, now)
            if state is None or not decision.allowed or decision.grant is None:
                return None
            return patient, decision.reason, state.grants[(decision.grant, pro)]
        page, more = keyset(self.view.by_professional.get(pro, ()), after, body.limit, readable)
        people = await self.names.person_names(p for p, _, _ in page)
        items = [PatientOfV1(patient=p, name=people.get(p), grant=reason, since=g.granted_at, ends_at=g.ends_at)
                 for p, reason, g in page]
        next_cursor = encode_cursor("patients-of", page[-1][0]) if more else None
        return ok(PatientsOfPage(professional=self.names.professional(pro), items=items, next_cursor=next_cursor,
                                 patients=items))

    async def assisted(self, body: AssistedQuery) -> Answer:
        """The DSPs `user` assists now (the link made and not ended), by the patient's matricule."""
        now, user = ms(self.clock()), body.user
        try:
            after = key_position(body.cursor, "assisted")
        except BadCursor as exc:
            return bad_cursor(exc)
        def assisted(patient: str) -> tuple[str, Any] | None:
            state = self.view.state(patient)
            allowed = state is not None and decide(state, Actor("patient", user), Action.MANAGE, patient, now).allowed
            return (patient, state) if allowed else None
        page, more = keyset(self.view.by_assistant.get(user, ()), after, body.limit, assisted)
        people = await self.names.people(p for p, _ in page)
        items = [AssistedV1(patient=p, name=directory.person_name(people.get(p)),
                            kind=directory.assistant_kind(not is_adult(p, now), user,
                                                       (people.get(p) or {}).get("guardians", [])),
                            since=state.assistant_since.get(user), ends_at=state.assistants.get(user))
                 for p, state in page]
        next_cursor = encode_cursor("assisted", page[-1][0]) if more else None
        return ok(AssistedPage(items=items, next_cursor=next_cursor))


def _legacy(entry: AuditEntry) -> dict[str, Any]:
    """An entry in the trail's old flat shape, without its hashes (until the gateway reads `items`)."""
    out = {k: getattr(entry, k) for k in LEGACY}
    out["at"] = rfc3339(entry.at)
    return out
