"""The portal API's public answers (the gateway's OpenAPI document): one error shape, and a model per route.

Every 4xx/5xx is an RFC 9457 problem (`application/problem+json`, `Problem`): `type`, `title`, `status`,
`detail`, and the members clients key on — `reason`, `next_step`, `errors[]`. Dates are RFC 3339 in UTC with `Z`
(`UtcDateTime`). Every list is a cursor page (`items`, `next_cursor`). The documents' and notifications' models
are in `schemas.portal_documents`, the access screens' in `schemas.portal_access`.
"""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from .fields import UtcDateTime, rfc3339

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE = "urn:dsp-mesh:problem:"
KINDS: dict[str, str] = {  # kind -> title (the same for every occurrence, as RFC 9457 asks)
    "refused": "Refused", "invalid-host": "Host not allowed", "not-authenticated": "Not logged in",
    "forbidden": "Not allowed", "not-found": "Not found", "method-not-allowed": "Method not allowed",
    "body-too-large": "Request body too large", "invalid-request": "Invalid request",
    "too-many-requests": "Too many requests", "server-error": "Internal error", "unavailable": "Unavailable",
}
BY_STATUS = {400: "refused", 401: "not-authenticated", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
             413: "body-too-large", 422: "invalid-request", 429: "too-many-requests", 500: "server-error",
             503: "unavailable"}


def _dates_in_utc(details: dict[str, str]) -> dict[str, str]:
    """A detail named `*_at` is a date-time: RFC 3339 UTC `Z`, as every date the portal answers."""
    out = {}
    for key, value in details.items():
        if key.endswith("_at"):
            try:
                value = rfc3339(datetime.fromisoformat(value))
            except ValueError:
                pass  # not a date after all: as it came
        out[key] = value
    return out


Details = Annotated[dict[str, str], AfterValidator(_dates_in_utc),
                    Field(description="e.g. a masked address, tries left, a session's or a grant's end (`*_at`: "
                                      "RFC 3339 UTC)")]


class ProblemError(BaseModel):
    """One field that breaks the contract (never the value sent)."""

    model_config = ConfigDict(extra="forbid")

    loc: list[str] = Field(description="Where: body, query, header, cookie or path, then the field's path")
    msg: str = Field(description="What is wrong with it")


def _absent_not_null(schema: dict[str, Any]) -> None:
    """Optional members are left out, never null: their schema has no `default: null`."""
    for member in schema.get("properties", {}).values():
        if member.get("default", ...) is None:
            del member["default"]


class Problem(BaseModel):
    """RFC 9457 problem details: the one shape of every error answer (`application/problem+json`)."""

    model_config = ConfigDict(extra="forbid", title="Problem", json_schema_extra=_absent_not_null)

    type: str = Field(description=f"The kind of problem, a URN `{PROBLEM_TYPE}<kind>`: "
                                  + ", ".join(KINDS), examples=[f"{PROBLEM_TYPE}refused"])
    title: str = Field(description="The kind's short name (the same for every occurrence)")
    status: int = Field(ge=400, le=599, description="The HTTP status code")
    detail: str = Field(description="What went wrong this time, for a person")
    reason: str = Field(description="Why, in words a person understands (what clients key on)")
    next_step: str | SkipJsonSchema[None] = Field(default=None, description="What to do next, if anything")
    errors: list[ProblemError] | SkipJsonSchema[None] = Field(default=None,
                                                              description="invalid-request: each field's problem")
    details: Details | SkipJsonSchema[None] = Field(
        default=None, description="A refused activation or login step: e.g. a masked address, tries left")
    challenge_required: bool | SkipJsonSchema[None] = Field(
        default=None, description="A refused login: the next attempt needs a solved challenge")
    retry_after_s: int | SkipJsonSchema[None] = Field(default=None, description="Attempts wait this long (also "
                                                                                "the Retry-After header)")


def problem(status: int, reason: str, *, kind: str | None = None, detail: str | None = None,
            **extensions: object) -> Problem:
    """The problem for `status` (its kind's type and title unless `kind` says); `reason` is also the detail."""
    name = kind or BY_STATUS.get(status) or HTTPStatus(status).phrase.lower().replace(" ", "-")
    title = KINDS.get(name) or HTTPStatus(status).phrase
    return Problem.model_validate({"type": f"{PROBLEM_TYPE}{name}", "title": title, "status": status,
                                   "detail": detail or reason, "reason": reason,
                                   **{k: v for k, v in extensions.items() if v is not None}})


class StepResult(BaseModel):
    """An activation, login, logout or password step that activation accepted."""

    reason: str = Field(description="What happened, in words a person understands")
    next_step: str | None = Field(default=None, description="The step that comes next, if any")
    details: Details = Field(default_factory=dict)
    challenge_required: bool = Field(default=False, description="The next attempt needs a solved challenge")


class Captcha(BaseModel):
    """An image captcha to copy (activation's)."""

    model_config = ConfigDict(extra="allow")

    captcha_id: str = Field(description="Send it back with the answer")
    image_png_base64: str = Field(description="The PNG image, base64")
    expires_in_s: int = Field(description="How long the captcha can be answered")


class AltchaChallenge(BaseModel):
    """An ALTCHA proof-of-work challenge the browser solves (protocol v1; activation's)."""

    model_config = ConfigDict(extra="allow")

    algorithm: str = Field(description="e.g. SHA-256")
    challenge: str = Field(description="The hash to find")
    maxnumber: int = Field(description="The search's upper bound")
    salt: str
    signature: str


class Accepted(BaseModel):
    """An asynchronous write records applies (upload, block): accepted, not yet applied — poll
    `GET /v1/me/commands/{command_id}` for its outcome."""

    document_id: str = Field(description="The document (an upload's id is known before records stores it)")
    status: Literal["accepted"] = Field(description="accepted: sent to records, applied shortly")
    command_id: str = Field(description="The command sent: `GET /v1/me/commands/{command_id}` tells its outcome")


class ProLogin(BaseModel):
    """A professional's session opened (server-side; the cookie holds an opaque token)."""

    professional_id: str
    session_s: int = Field(description="Idle time before the session ends, in seconds")
    session_ends_at: UtcDateTime = Field(description="The session ends then at the latest")


class Acknowledged(BaseModel):
    reason: str = Field(description="What happened")
