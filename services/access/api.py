"""access's HTTP API for the gateway (on the worker's own port): decisions, the access state, the audit trail.

Bodies are JSON; a malformed one is a 422 with the reasons; a dependency down is a 503 (the gateway denies).
A professional's decision is only answered once its audit entry is stored: no audit, no access.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from pymongo.errors import DuplicateKeyError

from schemas.access import DecisionRequest, DecisionV1, PatientQuery, ProfessionalQuery
from services.kit.errors import TRANSIENT
from services.kit.http import Door
from services.kit.servicetokens import calling_service

from .decisions import Action, Actor, decide
from .service import AccessService, ms
from .store import encode_access

log = structlog.get_logger("dsp.access.api")


class AccessApi:
    def __init__(self, service: AccessService, clock: Callable[[], datetime]) -> None:
        self.service, self.clock = service, clock
        self.view, self.audit, self.store = service.view, service.audit, service.store
        self._seen: set[tuple[str, str]] = set()  # (patient, professional) already told about
        self._tasks: set[asyncio.Task[None]] = set()

    def routes(self, door: Door) -> list[tuple[str, Any]]:
        """Each behind the door: only the gateway calls them (a service token, JSON, a known Host)."""
        gateway = ("gateway",)
        return [("/v1/decisions", door.endpoint(self.decide, gateway)),
                ("/v1/access-state", door.endpoint(self.access_state, gateway)),
                ("/v1/audit", door.endpoint(self.audit_trail, gateway)),
                ("/v1/patients-of", door.endpoint(self.patients_of, gateway))]

    async def patients_of(self, raw: bytes) -> tuple[int, Any]:
        """The patients whose DSP a professional may read now, with the grant (one pass over the view)."""
        body = ProfessionalQuery.model_validate_json(raw)
        now, actor = ms(self.clock()), Actor("professional", body.professional_id)
        if not await self.view.professional_known(body.professional_id):
            return 404, {"detail": "unknown professional"}
        found = []
        for patient, (_, state) in list(self.view.patients.items()):
            decision = decide(state, actor, Action.READ, patient, now)
            if decision.allowed and decision.grant is not None:
                grant = state.grants[(decision.grant, body.professional_id)]
                found.append({"patient": patient, "grant": decision.reason,
                              "ends_at": grant.ends_at.isoformat() if grant.ends_at else None})
        return 200, {"patients": found[: body.limit]}

    async def decide(self, raw: bytes) -> tuple[int, Any]:
        body = DecisionRequest.model_validate_json(raw)
        now, actor = ms(self.clock()), Actor(body.actor.kind, body.actor.id)
        decision = await self.view.decide(actor, Action(body.action), body.patient, now, body.document)
        seq = None
        if actor.kind != "patient" or actor.id != body.patient:  # the owner's own reads are not audited
            entry = await self.audit.append(body.patient, now, actor.kind, actor.id, body.action, body.document,
                                            decision.allowed, decision.reason, via=calling_service.get() or "")
            seq = entry.seq
        if decision.allowed and actor.kind == "professional":
            await self._first_access(body.patient, actor.id)
        return 200, DecisionV1(allowed=decision.allowed, reason=decision.reason,
                               grant=decision.grant.value if decision.grant else None, audit_seq=seq).model_dump()

    async def _first_access(self, patient: str, professional: str) -> None:
        """Tell the patient about a professional's first access — off the decision's path: the answer does not
        wait for Kafka. A notice that could not be sent leaves no marker, so the next decision tries again."""
        if (patient, professional) in self._seen:
            return
        self._seen.add((patient, professional))
        task = asyncio.create_task(self._tell_first_access(patient, professional))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _tell_first_access(self, patient: str, professional: str) -> None:
        marker = f"{patient}|{professional}"
        try:
            await self.store.first_access.insert_one({"_id": marker, "at": self.clock()})
        except DuplicateKeyError:
            return
        except TRANSIENT:
            self._seen.discard((patient, professional))
            return
        try:
            await self.service.notify(patient, f"first-access:{marker}", "first-access", {"professional": professional})
        except Exception as exc:  # noqa: BLE001 - logged; the marker goes so that the next decision retries
            log.warning("first-access notice not sent; will retry", error=type(exc).__name__)
            self._seen.discard((patient, professional))
            await self.store.first_access.delete_one({"_id": marker})

    async def _manager(self, raw: bytes) -> PatientQuery | tuple[int, Any]:
        body = PatientQuery.model_validate_json(raw)
        decision = await self.view.decide(Actor(body.actor.kind, body.actor.id), Action.MANAGE, body.patient,
                                          ms(self.clock()))
        if not decision.allowed:
            return 403, {"detail": decision.reason}
        return body

    async def access_state(self, raw: bytes) -> tuple[int, Any]:
        body = await self._manager(raw)
        if not isinstance(body, PatientQuery):
            return body
        doc = await self.store.load(body.patient)
        state = encode_access(doc.access)
        state.update(version=doc.version, consents=doc.consents, presence_password=doc.presence_hash is not None)
        return 200, state

    async def audit_trail(self, raw: bytes) -> tuple[int, Any]:
        body = await self._manager(raw)
        if not isinstance(body, PatientQuery):
            return body
        entries = await self.audit.entries(body.patient, body.limit, body.before_seq)
        return 200, {"entries": [{k: v for k, v in e.__dict__.items() if k != "prev_hash"} for e in entries]}
