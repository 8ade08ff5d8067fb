"""The login: the password, then the one-time code; or LuxTrust."""

from __future__ import annotations

from typing import Any

from schemas.activation import LoginCodeRequest, LoginRequest, LuxTrustLoginRequest
from services.kit.http import Door

from ..service.login import Login
from .common import step_route


def routes(door: Door, login: Login) -> list[tuple[str, Any]]:
    return [("/v1/login", step_route(door, LoginRequest, login.password)),
            ("/v1/login/verify", step_route(door, LoginCodeRequest, login.code)),
            ("/v1/login/luxtrust", step_route(door, LuxTrustLoginRequest, login.luxtrust))]
