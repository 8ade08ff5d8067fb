"""access's decision routes (on the worker's own port, behind the door): `POST /v1/decisions` for the gateway
(timed phase by phase, `timing.py`) and `POST /v1/stats` for the console. Bodies are JSON; a malformed one is a
422 with the reasons; a dependency down is a 503 (the gateway denies). The use cases: `service/decide.py`,
`service/stats.py`."""

from __future__ import annotations

from typing import Any

from schemas.access import DecisionRequest
from services.kit.http import Door
from services.kit.servicetokens import calling_service

from ..service.decide import Decide
from ..service.stats import Stats
from .timing import Phases

GATEWAY, CONSOLE = ("gateway",), ("console",)


def routes(door: Door, decide: Decide, stats: Stats, phases: Phases | None = None) -> list[tuple[str, Any]]:
    timer = phases or Phases(None)

    async def decision(raw: bytes) -> tuple[int, Any]:
        lap = timer.entered()
        body = DecisionRequest.model_validate_json(raw)
        lap = timer.lap("parse", lap)

        def ended(phase: str) -> None:
            nonlocal lap
            lap = timer.lap(phase, lap)

        answer = await decide(body, via=calling_service.get() or "", lap=ended)
        return 200, answer.model_dump()

    async def counters(raw: bytes) -> tuple[int, Any]:
        return 200, (await stats()).model_dump(mode="json")

    return [("/v1/decisions", timer.timed(door.endpoint(decision, GATEWAY))),
            ("/v1/stats", door.endpoint(counters, CONSOLE))]
