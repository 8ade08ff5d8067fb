"""The challenges a person solves before a guessable secret is checked: an image captcha, an ALTCHA."""

from __future__ import annotations

from typing import Any

from services.kit.http import Door

from ..service.challenges import Challenges
from .common import GATEWAY


def routes(door: Door, challenges: Challenges) -> list[tuple[str, Any]]:
    async def new_captcha(raw: bytes) -> tuple[int, Any]:
        return 200, await challenges.new_captcha()

    async def new_altcha(raw: bytes) -> tuple[int, Any]:
        return 200, await challenges.new_altcha()

    return [("/v1/captcha", door.endpoint(new_captcha, GATEWAY)),
            ("/v1/altcha", door.endpoint(new_altcha, GATEWAY))]
