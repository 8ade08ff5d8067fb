"""Who this process is to Kafka: the one place that turns the DSP_KAFKA_* settings into client arguments.

`client_options` for the aiokafka clients a service makes itself (producers, consumers, admin clients), `security`
for the FastStream broker. PLAINTEXT (no credentials) only for an unsecured broker; the local broker and compose
ask for SASL_PLAINTEXT + SCRAM-SHA-512, production for SASL_SSL (the same principal, over TLS).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faststream.security import BaseSecurity

    from .settings import ServiceSettings


def client_options(settings: ServiceSettings) -> dict[str, Any]:
    """aiokafka keyword arguments: bootstrap servers and, when the broker asks for them, the SASL credentials."""
    password = settings.kafka_password.get_secret_value() if settings.kafka_password else None
    return options(settings.kafka_bootstrap, settings.kafka_security_protocol, settings.kafka_sasl_mechanism,
                   settings.kafka_username, password)


def options(bootstrap: str, protocol: str = "PLAINTEXT", mechanism: str = "SCRAM-SHA-512", username: str | None = None,
            password: str | None = None) -> dict[str, Any]:
    """The same for a process without service settings (the demo laboratory, benchmarks)."""
    out: dict[str, Any] = {"bootstrap_servers": bootstrap}
    if protocol == "PLAINTEXT":
        return out
    if not (username and password):
        raise ValueError(f"Kafka security protocol {protocol} needs a username and a password")
    out.update(security_protocol=protocol, sasl_mechanism=mechanism, sasl_plain_username=username,
               sasl_plain_password=password)
    if protocol == "SASL_SSL":
        out["ssl_context"] = ssl.create_default_context()
    return out


def options_from_env(env: Mapping[str, str], prefix: str = "DSP_KAFKA_") -> dict[str, Any]:
    """`options` from DSP_KAFKA_BOOTSTRAP, DSP_KAFKA_SECURITY_PROTOCOL, DSP_KAFKA_SASL_MECHANISM and
    `<prefix>USERNAME` / `<prefix>PASSWORD` (e.g. DSP_LABORATORY_KAFKA_ for the demo's laboratory)."""
    return options(env.get("DSP_KAFKA_BOOTSTRAP", "127.0.0.1:19092"), env.get("DSP_KAFKA_SECURITY_PROTOCOL",
                                                                             "PLAINTEXT"),
                   env.get("DSP_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"), env.get(f"{prefix}USERNAME"),
                   env.get(f"{prefix}PASSWORD"))


def security(settings: ServiceSettings) -> BaseSecurity | None:
    """The FastStream broker's `security=`: the same principal as `client_options`."""
    from faststream.security import SASLPlaintext, SASLScram256, SASLScram512

    if settings.kafka_security_protocol == "PLAINTEXT":
        return None
    assert settings.kafka_username is not None and settings.kafka_password is not None  # noqa: S101
    tls = settings.kafka_security_protocol == "SASL_SSL"
    kind = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}
    return kind[settings.kafka_sasl_mechanism](settings.kafka_username, settings.kafka_password.get_secret_value(),
                                               ssl_context=ssl.create_default_context() if tls else None,
                                               use_ssl=tls)
