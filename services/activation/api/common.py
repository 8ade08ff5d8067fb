"""What the route groups share: who may call, and a step's route (decode the body, call the use case, answer
its public part)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from services.kit.http import Door

from ..service.answer import Answer

GATEWAY = ("gateway",)
CONSOLE = ("console",)


def step_route(door: Door, model: type[BaseModel], run: Callable[[Any], Awaitable[Answer]]) -> Any:
    async def handle(raw: bytes) -> tuple[int, Any]:
        answer = await run(model.model_validate_json(raw))
        return 200, answer.public().model_dump(mode="json", exclude_none=True)
    return door.endpoint(handle, GATEWAY)
