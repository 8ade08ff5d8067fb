"""Presence-password routes (behind the door; the gateway calls them): `POST /v1/presence/generate` (owner or
assistant) and `POST /v1/presence/redeem` (a professional). The use case: `service/presence.py`."""

from __future__ import annotations

from typing import Any

from schemas.access import PresenceGenerateRequest, PresenceRedeemRequest
from services.kit.http import Door
from services.kit.servicetokens import calling_service

from ..service.answers import Answer
from ..service.presence import PresencePasswords

GATEWAY = ("gateway",)


def routes(door: Door, passwords: PresencePasswords) -> list[tuple[str, Any]]:
    async def generate(raw: bytes) -> Answer:
        return await passwords.generate(PresenceGenerateRequest.model_validate_json(raw))

    async def redeem(raw: bytes) -> Answer:
        return await passwords.redeem(PresenceRedeemRequest.model_validate_json(raw), via=calling_service.get() or "")

    return [("/v1/presence/generate", door.endpoint(generate, GATEWAY)),
            ("/v1/presence/redeem", door.endpoint(redeem, GATEWAY))]
