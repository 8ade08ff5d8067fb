"""Decoding Kafka values into contracts, so that bad bytes raise a validation error with a clear reason."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from faststream import StreamMessage
from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def json_decoder(model: type[M]) -> Callable[[StreamMessage[Any]], Awaitable[M]]:
    """A FastStream decoder: strict JSON -> `model`; garbage raises pydantic's ValidationError (json_invalid)."""

    async def decode(msg: StreamMessage[Any]) -> M:
        return model.model_validate_json(msg.body)

    return decode
