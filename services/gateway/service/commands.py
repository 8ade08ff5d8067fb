"""Commands the portal sends on Kafka: checked against their contract before they go (a 422 here, never a
dead letter there), and an access command's outcome as the portal's answer (a refusal is a 400 with the reason)."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ValidationError

from schemas.access import AccessCommandV1
from schemas.portal_access import CommandResult
from schemas.records import RecordsCommandV1
from schemas.topics import ACCESS_COMMANDS, RECORDS_COMMANDS

from ..context import Context
from ..problems import Refusal, field_errors


def command_id() -> str:
    return f"gw-{uuid.uuid4()}"


def answer(outcome: dict[str, Any]) -> CommandResult:
    """An access command's outcome: a refusal is a 400 with the reason."""
    if not outcome["accepted"]:
        raise Refusal(400, outcome["reason"], next_step=outcome.get("next_step"))
    return CommandResult(reason=outcome["reason"], next_step=outcome.get("next_step"),
                         details=outcome.get("details") or {})


def checked(model: type[BaseModel], body: dict[str, Any]) -> dict[str, Any]:
    """A command the service would dead-letter is refused here, with the contract's reasons (a 422, not a wait)."""
    try:
        model.model_validate(body)
    except ValidationError as exc:
        raise Refusal(422, "invalid request", errors=field_errors(exc.errors(include_input=True))) from None
    return body


async def access_command(c: Context, patient: str, actor: dict[str, str], fields: dict[str, Any]) -> CommandResult:
    """One access command on `patient`'s DSP by `actor` (the gateway adds its id): sent, its outcome awaited."""
    command = checked(AccessCommandV1, {**fields, "command_id": command_id(), "patient": patient, "actor": actor})
    return answer(await c.bus.command(ACCESS_COMMANDS.name, patient, command))


async def records_command(c: Context, patient: str, body: dict[str, Any]) -> None:
    """One records command (an upload, a block, an unblock): sent; its outcome is polled at
    `/v1/me/commands/{command_id}`."""
    checked(RecordsCommandV1, body)
    await c.bus.send(RECORDS_COMMANDS.name, patient, body)
