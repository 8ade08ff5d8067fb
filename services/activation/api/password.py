"""The password: changed by its logged-in owner, or forgotten."""

from __future__ import annotations

from typing import Any

from schemas.activation import ChangePasswordRequest, ForgotPasswordRequest
from services.kit.http import Door

from ..service.password import Passwords
from .common import step_route


def routes(door: Door, passwords: Passwords) -> list[tuple[str, Any]]:
    return [("/v1/password/change", step_route(door, ChangePasswordRequest, passwords.change)),
            ("/v1/password/forgot", step_route(door, ForgotPasswordRequest, passwords.forgot))]
