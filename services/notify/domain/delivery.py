"""A notification request's delivery event, fixed when its outcome is first stored and re-sent as it was. Pure."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from schemas.notify import Channel, DeliveryV1, NotificationRequestV1

NS = uuid.UUID("7a0c2d55-1f0b-4a57-8d0e-5b8b6f3e2c91")


def delivery_event(req: NotificationRequestV1, status: Literal["delivered", "failed"], attempts: int, at: datetime,
                   reason: str = "", channel: Channel | None = None) -> dict[str, Any]:
    """`notify.events.v1`'s value for this request's outcome; its id derives from the request id and the status
    (a redelivered outcome is the same event)."""
    return DeliveryV1(event_id=str(uuid.uuid5(NS, f"{req.request_id}:{status}")), request_id=req.request_id,
                      channel=channel or req.channel, template_id=req.template_id, status=status,
                      reason=reason, attempts=attempts, at=at).model_dump(mode="json")
