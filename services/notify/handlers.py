"""notify's Kafka handlers."""

from __future__ import annotations

import structlog
from pymongo.errors import DuplicateKeyError

from schemas.notify import NotificationRequestV1
from schemas.topics import NOTIFY_REQUESTS
from services.kit.broker import consumer_options
from services.kit.contracts import json_decoder
from services.kit.runtime import Runtime

from . import domain

log = structlog.get_logger("dsp.notify")


def register(rt: Runtime) -> None:
    outbox = rt.db["outbox"]

    @rt.broker.subscriber(NOTIFY_REQUESTS.name, **consumer_options(rt.settings),
                          decoder=json_decoder(NotificationRequestV1), title="notify.requests",
                          description="Accept each notification request once; in-app ones land in the list")
    async def on_request(req: NotificationRequestV1) -> None:
        try:
            await outbox.insert_one(domain.outbox_entry(req, rt.clock()))
        except DuplicateKeyError:
            log.info("duplicate notification request ignored", request_id=req.request_id)
            return
        log.info("notification request accepted", request_id=req.request_id, channel=req.channel.value,
                 template_id=req.template_id, patient_ref=rt.pseudonym(req.recipient))
