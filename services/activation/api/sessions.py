"""Sessions: the gateway's check (200 with the matricule, or 401), and logging out."""

from __future__ import annotations

from typing import Any

from schemas.activation import SessionRequest
from services.kit.http import Door

from ..service.sessions import Sessions
from .common import GATEWAY, step_route


def routes(door: Door, sessions: Sessions) -> list[tuple[str, Any]]:
    async def check(raw: bytes) -> tuple[int, Any]:
        body = SessionRequest.model_validate_json(raw)
        session = await sessions.check(body.session_token)
        if session is None:
            return 401, {"detail": "no such session, or it expired or ended"}
        return 200, {"matricule": session["matricule"], "expires_at": session["expires_at"].isoformat()}

    return [("/v1/sessions/end", step_route(door, SessionRequest, sessions.end)),
            ("/v1/sessions/check", door.endpoint(check, GATEWAY))]
