"""records' Kafka handlers: thin — parse, apply the domain, store."""

from __future__ import annotations

import structlog
from faststream.kafka import KafkaMessage

from schemas.lab_result import LabResultKey, LabResultV1
from schemas.topics import LAB_RESULTS
from services.kit.broker import consumer_options
from services.kit.contracts import json_decoder
from services.kit.errors import BadMessage
from services.kit.runtime import Runtime

from . import domain
from .store import ResultStore

log = structlog.get_logger("dsp.records")


def register(rt: Runtime, store: ResultStore) -> None:
    @rt.broker.subscriber(LAB_RESULTS.name, **consumer_options(rt.settings), decoder=json_decoder(LabResultV1),
                          title="records.lab-results", description="Store each lab result once in the DSP")
    async def on_lab_result(result: LabResultV1, msg: KafkaMessage) -> None:
        try:
            domain.check_key(LabResultKey.parse(msg.raw_message.key), result)  # type: ignore[union-attr]
        except ValueError as exc:
            raise BadMessage(str(exc)) from exc
        stored = await store.save(domain.to_document(result, received_at=rt.clock()))
        log.info("lab result stored" if stored else "duplicate lab result ignored",
                 laboratory_id=result.laboratory_id, report_id=result.report_id,
                 patient_ref=rt.pseudonym(result.patient_matricule), status=result.status.value)
