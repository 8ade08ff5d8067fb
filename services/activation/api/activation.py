"""The activation: the letter's code, then each step with the flow token."""

from __future__ import annotations

from typing import Any

from schemas.activation import StartRequest, StepRequest
from services.kit.http import Door

from ..service.start import Start
from ..service.steps import Steps
from .common import step_route


def routes(door: Door, start: Start, steps: Steps) -> list[tuple[str, Any]]:
    return [("/v1/activation/start", step_route(door, StartRequest, start.run)),
            ("/v1/activation/step", step_route(door, StepRequest, steps.run))]
