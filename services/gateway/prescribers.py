"""A document's prescriber named, as the directory of professionals lists them (access's copy of it, read through
`/v1/professionals/get`): what the patient and the professional read rather than an id. A directory that does not
answer leaves the name out (the document is still served, its `prescriber_id` kept). A name the directory gave
is remembered for `REMEMBER_S` in the gateway's process (`Context.prescriber_names`): a document page does not ask
access each time (a directory change shows within five minutes)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from .calls import read
from .context import Context
from .problems import Refusal

REMEMBER_S, REMEMBERED = 300.0, 10_000


async def named(c: Context, detail: dict[str, Any], now: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    """records' document detail with `prescriber_name` (None: no prescriber, or none the directory names)."""
    prescriber, name = detail.get("prescriber_id"), None
    if prescriber:
        known = c.prescriber_names.get(prescriber)
        if known is not None and known[0] > now():
            return {**detail, "prescriber_name": known[1]}
        try:
            found = await read(c.access, "access", "/v1/professionals/get", {"professional_id": prescriber}, keep=())
            name = found.get("name") if found.get("listed") else None
        except (Refusal, httpx.HTTPError):
            return {**detail, "prescriber_name": None}  # not remembered: asked again next time
        if len(c.prescriber_names) >= REMEMBERED:
            c.prescriber_names.clear()
        c.prescriber_names[prescriber] = (now() + REMEMBER_S, name)
    return {**detail, "prescriber_name": name}
