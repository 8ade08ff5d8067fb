"""access's HTTP API for the gateway (on the worker's own port): decisions, the access state, the audit trail.

Bodies are JSON; a malformed one is a 422 with the reasons; a dependency down is a 503 (the gateway denies).
A professional's decision is only answered once its audit entry is stored: no audit, no access.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from faststream.asgi import AsgiResponse, Request, post
from pydantic import BaseModel, ValidationError
from pymongo.errors import DuplicateKeyError

from schemas.access import DecisionRequest, DecisionV1, PatientQuery
from services.kit.errors import TRANSIENT

from .decisions import Action, Actor
from .service import AccessService, ms
from .store import encode_access

log = structlog.get_logger("dsp.access.api")


def _json(status: int, body: Any) -> AsgiResponse:
    return AsgiResponse(json.dumps(body, default=str).encode(), status, headers={"content-type": "application/json"})


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in exc.errors(include_input=False,
                                                                                      include_url=False)]


async def _parse(request: Any, model: type[BaseModel]) -> BaseModel | AsgiResponse:
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        return _json(422, {"detail": "invalid request", "errors": _errors(exc)})


class AccessApi:
    def __init__(self, service: AccessService, clock: Callable[[], datetime]) -> None:
        self.service, self.clock = service, clock
        self.view, self.audit, self.store = service.view, service.audit, service.store
        self._seen: set[tuple[str, str]] = set()  # (patient, professional) already told about

    def routes(self) -> list[tuple[str, Any]]:
        @post(description="Decide whether an actor may read or manage a patient's DSP; audited")
        async def decisions(request: Request) -> AsgiResponse:
            return await self._guard(self.decide, request)

        @post(description="Who has access to a DSP, blocked professionals, assistants, consents")
        async def access_state(request: Request) -> AsgiResponse:
            return await self._guard(self.access_state, request)

        @post(description="The DSP's audit trail, newest first, for the owner and assistants")
        async def audit(request: Request) -> AsgiResponse:
            return await self._guard(self.audit_trail, request)

        return [("/v1/decisions", decisions), ("/v1/access-state", access_state), ("/v1/audit", audit)]

    async def _guard(self, handler: Callable[[Any], Any], request: Any) -> AsgiResponse:
        try:
            response: AsgiResponse = await handler(request)
            return response
        except TRANSIENT as exc:
            log.warning("dependency unreachable; answered 503", error=type(exc).__name__)
            return _json(503, {"detail": "access store unavailable; retry later"})

    async def decide(self, request: Any) -> AsgiResponse:
        body = await _parse(request, DecisionRequest)
        if not isinstance(body, DecisionRequest):
            return body  # type: ignore[return-value]
        now, actor = ms(self.clock()), Actor(body.actor.kind, body.actor.id)
        decision = await self.view.decide(actor, Action(body.action), body.patient, now, body.document)
        seq = None
        if actor.kind != "patient" or actor.id != body.patient:  # the owner's own reads are not audited
            entry = await self.audit.append(body.patient, now, actor.kind, actor.id, body.action, body.document,
                                            decision.allowed, decision.reason)
            seq = entry.seq
        if decision.allowed and actor.kind == "professional":
            await self._first_access(body.patient, actor.id)
        return _json(200, DecisionV1(allowed=decision.allowed, reason=decision.reason,
                                     grant=decision.grant.value if decision.grant else None,
                                     audit_seq=seq).model_dump())

    async def _first_access(self, patient: str, professional: str) -> None:
        if (patient, professional) in self._seen:
            return
        try:
            await self.store.first_access.insert_one({"_id": f"{patient}|{professional}", "at": self.clock()})
        except DuplicateKeyError:
            pass
        else:
            await self.service.notify(patient, f"first-access:{patient}:{professional}", "first-access",
                                      {"professional": professional})
        self._seen.add((patient, professional))

    async def _manager(self, request: Any) -> PatientQuery | AsgiResponse:
        body = await _parse(request, PatientQuery)
        if not isinstance(body, PatientQuery):
            return body  # type: ignore[return-value]
        decision = await self.view.decide(Actor(body.actor.kind, body.actor.id), Action.MANAGE, body.patient,
                                          ms(self.clock()))
        if not decision.allowed:
            return _json(403, {"detail": decision.reason})
        return body

    async def access_state(self, request: Any) -> AsgiResponse:
        body = await self._manager(request)
        if not isinstance(body, PatientQuery):
            return body
        doc = await self.store.load(body.patient)
        state = encode_access(doc.access)
        state.update(version=doc.version, consents=doc.consents, presence_password=doc.presence_hash is not None)
        return _json(200, state)

    async def audit_trail(self, request: Any) -> AsgiResponse:
        body = await self._manager(request)
        if not isinstance(body, PatientQuery):
            return body
        entries = await self.audit.entries(body.patient, body.limit, body.before_seq)
        return _json(200, {"entries": [{k: v for k, v in e.__dict__.items() if k not in ("prev_hash",)}
                                       for e in entries]})
