"""The person's own portal preferences (the language the web portal speaks to them), remembered across browsers.

Always the person logged in's, whatever DSP they act on (`X-DSP-Patient` is still checked, as on every `/v1/me`
route); kept in the gateway's own database under the SHA-256 of their matricule (`store/preferences.py`)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from ..context import ActingFor
from ..problems import Refusal, errors
from ..store.preferences import PreferenceStore, Unavailable

router = APIRouter(prefix="/v1", tags=["patient"], responses=errors(400, 401, 403, 413, 422, 429, 503))
Language = Literal["fr", "de", "en"]


class Preferences(BaseModel):
    """What the person chose (a member never chosen is left out)."""

    language: Language | SkipJsonSchema[None] = Field(default=None, description="The portal's language")


class PreferencesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    language: Language = Field(description="fr, de or en")


def _store(request: Request) -> PreferenceStore:
    store: PreferenceStore = request.app.state.preferences
    return store


@router.get("/me/preferences", summary="My portal preferences (the language), the same in every browser",
            response_model=Preferences, response_model_exclude_none=True)
async def preferences(request: Request, who: ActingFor) -> Any:
    try:
        return Preferences(**await _store(request).get(who.user))
    except Unavailable:
        raise Refusal(503, "preferences unavailable; try again") from None


@router.put("/me/preferences", summary="Remember my portal language", response_model=Preferences,
            response_model_exclude_none=True)
async def set_preferences(body: PreferencesUpdate, request: Request, who: ActingFor) -> Any:
    try:
        await _store(request).set(who.user, body.language)
    except Unavailable:
        raise Refusal(503, "preferences unavailable; try again") from None
    return Preferences(language=body.language)
