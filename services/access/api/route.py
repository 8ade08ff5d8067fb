"""One route of the gateway's that is a request in, one use case's answer out: its JSON body read as the request's
contract (`schemas.access`; a body that breaks it is a 422), handed to the use case, whose answer is sent back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel

from services.kit.http import Door

from ..service.answers import Answer

GATEWAY = ("gateway",)
Request = TypeVar("Request", bound=BaseModel)


def gateway_route(door: Door, path: str, request: type[Request],
                  use_case: Callable[[Request], Awaitable[Answer]]) -> tuple[str, Any]:
    """`POST path` behind the door, for the gateway only: `request` decoded, `use_case` called, its answer sent."""

    async def handle(raw: bytes) -> Answer:
        return await use_case(request.model_validate_json(raw))

    return path, door.endpoint(handle, GATEWAY)
