"""Presence passwords: a patient's new one (access generates it and keeps only its hash; it reaches the answer over
HTTP, never Kafka) and a professional's try at one (access checks it over HTTP, then grants through the patient's
partition). Both await the command's outcome on Kafka."""

from __future__ import annotations

from schemas.access import ActorRef, PresenceGenerateRequest, PresenceRedeemRequest
from schemas.portal_access import CommandResult, PresencePassword

from ..context import Acting, Context
from .commands import answer, command_id


async def generate(c: Context, who: Acting, letter: bool) -> PresencePassword:
    asked = PresenceGenerateRequest(command_id=command_id(), patient=who.patient,
                                    actor=ActorRef(kind="patient", id=who.user),
                                    delivery="letter" if letter else "none")
    async with c.bus.expecting(asked.command_id) as outcome:
        generated = await c.clients.access.generate_presence(asked)
        result = answer(await c.bus.outcome(outcome))
    return PresencePassword(**result.model_dump(), presence_password=generated.presence_password)


async def redeem(c: Context, professional: str, patient: str, password: str) -> CommandResult:
    asked = PresenceRedeemRequest(command_id=command_id(), patient=patient, professional_id=professional,
                                  password=password)
    async with c.bus.expecting(asked.command_id) as outcome:
        await c.clients.access.redeem_presence(asked)
        return answer(await c.bus.outcome(outcome))
