"""The console's JSON API for logged-in operators: the dashboard's snapshot and live stream, dead letters (a
replayer reads a payload, masked unless asked otherwise, and replays it — each audited), helpdesk commands."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field

from schemas.fields import Matricule
from schemas.topics import ACTIVATION_COMMANDS
from services.kit.servicetokens import Signer

from ..domain.operators import NotLoggedIn, Session
from ..service.audit import Audit
from ..service.deadletters import DeadLetters, NotFound, payload
from ..service.probes import Probes
from .common import Web

log = structlog.get_logger("dsp.console")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")  # an `operator` field is refused: the session says who acts
    topic: str = Field(max_length=200)
    partition: int = Field(ge=0, le=100_000)
    offset: int = Field(ge=0)


class Replay(_Body):
    pass


class HelpdeskBody(BaseModel):
    """A helpdesk command for activation: a new letter, or clearing an account's failure counts."""

    model_config = ConfigDict(extra="forbid")  # no `operator`: the session says who acts
    command: Literal["reissue-code", "unlock"] = Field(description="reissue-code | unlock")
    matricule: Matricule = Field(description="Whose account")


class PayloadView(_Body):
    unmasked: bool = Field(default=False, description="Show matricules and values (audited as such)")


def operations_routes(web: Web, probes: Probes, dead: DeadLetters, audit: Audit, signer: Signer,
                      counters: dict[str, Counter], refresh_s: float) -> APIRouter:
    router = APIRouter()

    @router.get("/api/snapshot")
    async def snapshot(request: Request) -> dict[str, Any]:
        await web.session_of(request)
        return await probes.snapshot(datetime.now(UTC))

    @router.get("/api/stream")
    async def stream(request: Request) -> StreamingResponse:
        token = request.cookies.get(web.session_cookie)
        await web.session_of(request)

        async def events() -> AsyncIterator[str]:
            while True:
                try:  # every event re-checks the session (an open page is no activity: it does not slide it)
                    await web.sessions.find(token, touch=False)
                except NotLoggedIn as exc:
                    yield f"event: ended\ndata: {json.dumps({'reason': exc.reason})}\n\n"
                    return
                except Exception as exc:  # noqa: BLE001 - the page shows the error and keeps listening
                    yield f"event: problem\ndata: {json.dumps({'error': type(exc).__name__})}\n\n"
                else:
                    try:
                        data = await probes.snapshot(datetime.now(UTC))
                        yield f"event: snapshot\ndata: {json.dumps(data, default=str)}\n\n"
                    except Exception as exc:  # noqa: BLE001 - the page shows the error and keeps listening
                        yield f"event: problem\ndata: {json.dumps({'error': type(exc).__name__})}\n\n"
                await asyncio.sleep(refresh_s)
        return StreamingResponse(events(), media_type="text/event-stream")

    @router.get("/api/me")
    async def me(request: Request) -> dict[str, str]:
        session = await web.session_of(request)
        return {"operator": session.operator.name, "role": session.operator.role}

    @router.get("/api/dlq")
    async def dlq(request: Request, topic: str = Query(max_length=200),
                  limit: int = Query(default=20, ge=1, le=200)) -> Any:
        await web.session_of(request)
        try:
            return await dead.newest(topic, limit)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None

    async def dead_letter(request: Request, model: type[_Body]) -> tuple[Session, Any, Any]:
        """A replayer's request about one dead letter: (their session, the body, the record)."""
        session = await web.writer(request, "replayer")
        body = await web.json_body(request, model)
        try:
            return session, body, await dead.one(body.topic, body.partition, body.offset)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None

    @router.post("/api/dlq/payload")
    async def show_payload(request: Request) -> dict[str, Any]:
        session, body, record = await dead_letter(request, PayloadView)
        await audit.record("payload-view", session.operator.name, role=session.operator.role, dlq=body.topic,
                           partition=body.partition, offset=body.offset, unmasked=body.unmasked)
        counters["views"].labels(str(not body.unmasked).lower()).inc()
        if body.unmasked:
            log.warning("dead-letter payload shown unmasked", operator=session.operator.name, dlq=body.topic,
                        partition=body.partition, offset=body.offset)
        return payload(record, masked=not body.unmasked)

    @router.post("/api/dlq/replay")
    async def replay(request: Request) -> dict[str, Any]:
        session, body, record = await dead_letter(request, Replay)
        entry = await audit.record("replay", session.operator.name, role=session.operator.role, dlq=body.topic,
                                   partition=body.partition, offset=body.offset, state="requested")
        done = await dead.replay(record, session.operator.name)
        await audit.complete(entry, state="done", source=done["source"],
                             replayed_to_partition=done["replayed_to_partition"],
                             replayed_to_offset=done["replayed_to_offset"])
        counters["replays"].inc()
        return {**done, "operator": session.operator.name, "audit_id": entry}

    @router.post("/api/helpdesk")
    async def helpdesk(request: Request) -> dict[str, Any]:
        """Sent to activation signed with the console's key, naming the operator this session authenticated."""
        session = await web.writer(request, "replayer")
        body: HelpdeskBody = await web.json_body(request, HelpdeskBody)
        command_id = f"helpdesk-{uuid.uuid4()}"
        entry = await audit.record(f"helpdesk-{body.command}", session.operator.name, role=session.operator.role,
                                   command_id=command_id)
        await dead.send(ACTIVATION_COMMANDS.name, body.matricule, {
            "command": body.command, "command_id": command_id, "matricule": body.matricule,
            "operator": session.operator.name,
            "operator_assertion": signer.assertion("activation", session.operator.name, cmd=command_id,
                                                   matricule=body.matricule)})
        return {"command_id": command_id, "operator": session.operator.name, "audit_id": entry}

    return router
