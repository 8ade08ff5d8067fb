"""A document's prescriber named, as the directory of professionals lists them (access's copy of it, read through
`/v1/professionals/get`): what the patient and the professional read rather than an id. A directory that does not
answer leaves the name out (the document is still served, its `prescriber_id` kept)."""

from __future__ import annotations

from typing import Any

import httpx

from .calls import read
from .context import Context
from .problems import Refusal


async def named(c: Context, detail: dict[str, Any]) -> dict[str, Any]:
    """records' document detail with `prescriber_name` (None: no prescriber, or none the directory names)."""
    prescriber, name = detail.get("prescriber_id"), None
    if prescriber:
        try:
            found = await read(c.access, "access", "/v1/professionals/get", {"professional_id": prescriber}, keep=())
            name = found.get("name") if found.get("listed") else None
        except (Refusal, httpx.HTTPError):
            name = None
    return {**detail, "prescriber_name": name}
