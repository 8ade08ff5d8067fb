"""Kafka broker factory: acks=all, idempotent producer, offsets committed only after the effect; a broker outage
is logged as a database outage is, one line when it starts and one when it is over (`outage_log`)."""

from __future__ import annotations

import logging
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry

from schemas.topics import FILE_MESSAGE_BYTES

from .deadletter import DeadLetters
from .kafka_auth import client_options, security
from .outage_log import quiet_kafka_outages
from .settings import ServiceSettings


def make_broker(settings: ServiceSettings, registry: CollectorRegistry, dead_letters: DeadLetters) -> KafkaBroker:
    quiet_kafka_outages(settings.kafka_bootstrap, client_options(settings))
    return KafkaBroker(
        settings.kafka_bootstrap,
        security=security(settings),
        allow_auto_create_topics=False,  # infra creates the topics; no service principal may (no Create ACL)
        client_id=f"dsp-{settings.service}",
        acks="all",
        enable_idempotence=True,
        max_request_size=FILE_MESSAGE_BYTES,  # a lab result with its file, released or sent on from FHIR
        # FastStream's Kafka default is ACK_FIRST (at-most-once). Ours: commit after the handler returned;
        # anything escaping the dead-letter middleware seeks back and is redelivered.
        ack_policy=AckPolicy.NACK_ON_ERROR,
        middlewares=[
            KafkaPrometheusMiddleware(registry=registry, app_name=settings.service, metrics_prefix="dsp"),
            dead_letters,
        ],
        logger=logging.getLogger(f"dsp.{settings.service}.faststream"),
        graceful_timeout=15.0,
    )


def consumer_options(settings: ServiceSettings) -> dict[str, Any]:
    """Subscriber options shared by every worker: one consumer group per service, from the earliest offset."""
    return {
        "group_id": settings.group_id,
        "auto_offset_reset": "earliest",
        "ack_policy": AckPolicy.NACK_ON_ERROR,
        "max_poll_interval_ms": 10 * 60 * 1000,
        # FastStream gives each subscriber its own consumer: a worker's subscribers join the group one by one,
        # and each join pauses the group until every member's next heartbeat — keep that pause short.
        "heartbeat_interval_ms": 1000,
    }
