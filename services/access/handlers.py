"""access's Kafka handlers."""

from __future__ import annotations

import structlog

from schemas.directory import ProfessionalListedV1
from schemas.topics import DIRECTORY_PROFESSIONALS
from services.kit.broker import consumer_options
from services.kit.contracts import json_decoder
from services.kit.projection import upsert
from services.kit.runtime import Runtime

from . import domain

log = structlog.get_logger("dsp.access")


def register(rt: Runtime) -> None:
    professionals = rt.db["professionals"]

    @rt.broker.subscriber(DIRECTORY_PROFESSIONALS.name, **consumer_options(rt.settings),
                          decoder=json_decoder(ProfessionalListedV1), title="access.professionals",
                          description="Keep the professional directory that access decisions refer to")
    async def on_professional_listed(pro: ProfessionalListedV1) -> None:
        created = await upsert(professionals, pro.professional_id, domain.professional_fields(pro),
                               {"listed_at": rt.clock()})
        log.info("professional listed" if created else "professional updated",
                 professional_id=pro.professional_id, active=pro.active)
