"""Pure domain of notify: what a request becomes. No I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.notify import Channel, NotificationRequestV1


def outbox_entry(req: NotificationRequestV1, received_at: datetime) -> dict[str, Any]:
    """Every request is kept once, keyed on its request id; in-app ones are delivered by being stored."""
    delivered = req.channel is Channel.INAPP
    return {
        "_id": req.request_id,
        "channel": req.channel.value,
        "template_id": req.template_id,
        "locale": req.locale.value,
        "recipient": req.recipient,
        "parameters": dict(req.parameters),
        "status": "delivered" if delivered else "pending",
        "received_at": received_at,
        "delivered_at": received_at if delivered else None,
        "read": False,
    }
