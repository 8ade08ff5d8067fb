"""Settings: one pydantic-settings object per service, environment prefix DSP_, fail fast on bad secrets."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal, Self, TypeVar

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .sealing import SealError, check_private_key, check_public_key

if TYPE_CHECKING:
    from .http import Door
    from .servicetokens import Signer

_PLACEHOLDERS = {"changeme", "change-me", "change_me", "secret", "password", "placeholder", "todo",
                 "xxx", "example", "default", "test", "dev"}


def _real_secret(value: SecretStr) -> SecretStr:
    raw = value.get_secret_value().strip()
    lowered = raw.lower()
    if lowered in _PLACEHOLDERS or lowered.startswith(("changeme", "change-me", "<", "${")) or len(raw) < 16:
        raise ValueError("is missing or a placeholder: set a random value of at least 16 characters")
    return value


Secret = Annotated[SecretStr, AfterValidator(_real_secret)]


def _seal_key(value: SecretStr) -> SecretStr:
    try:
        check_private_key(value.get_secret_value())
    except SealError as exc:
        raise ValueError(f"{exc}: generate a keypair with python -m services.kit.sealing") from None
    return value


def _notify_public_key(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_public_key(value.strip())
    except SealError as exc:
        raise ValueError(f"{exc}: generate a keypair with python -m services.kit.sealing") from None


SealKey = Annotated[SecretStr, AfterValidator(_real_secret), AfterValidator(_seal_key)]
"""notify's private X25519 key (base64), a secret: sealed notification parameters open with it."""

NotifyPublicKey = Annotated[str | None, BeforeValidator(lambda v: v or None), AfterValidator(_notify_public_key)]
"""notify's public X25519 key (base64), not a secret; an empty variable means unset."""


def _service_key(value: SecretStr) -> SecretStr:
    from .servicetokens import private_key

    private_key(value.get_secret_value())  # a ValueError says what is wrong, never the value
    return value


MongoUser = Annotated[str | None, BeforeValidator(lambda v: v or None)]
"""A MongoDB user name; an empty variable means unset."""

ServiceKey = Annotated[SecretStr, AfterValidator(_service_key)]
"""A service's Ed25519 private key (base64 of the 32-byte seed), a secret."""


class ServiceSettings(BaseSettings):
    """What every worker needs. Subclasses set `service` and their own HTTP port variable."""

    model_config = SettingsConfigDict(env_prefix="DSP_", extra="ignore", frozen=True)
    service: ClassVar[str] = "service"

    kafka_bootstrap: str = Field(default="127.0.0.1:19092", description="Kafka bootstrap servers")
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="Kafka security protocol: SASL_PLAINTEXT on the local broker and compose, "
                                         "SASL_SSL in production; PLAINTEXT only for an unsecured broker")
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism of this service's Kafka principal")
    kafka_username: str | None = Field(default=None, description="This service's Kafka principal (SASL)")
    kafka_password: Secret | None = Field(default=None, description="The Kafka principal's password, a secret")
    mongo_uri: str = Field(default="mongodb://127.0.0.1:27027/", description="MongoDB-protocol server URI")
    mongo_db_prefix: str = Field(default="dsp", pattern=r"^[A-Za-z0-9_]{1,40}$",
                                 description="Each service owns the database <prefix>_<service>")
    mongo_username: MongoUser = Field(
        default=None, description="This service's own MongoDB user (authentication database: DSP_MONGO_AUTH_SOURCE); "
                                  "unset: the URI's credentials, if any")
    mongo_password: Secret | None = Field(default=None, description="That user's password, a secret")
    mongo_auth_source: str = Field(default="admin", description="The database the MongoDB users are defined in")
    kafka_group_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]{0,60}$",
                                    description="Prefix of the consumer group (tests isolate themselves with it)")
    http_host: str = Field(default="127.0.0.1", description="Address of the health/metrics endpoint")
    http_port: int = Field(default=8100, description="Port of the health/metrics endpoint (per-service variable)")
    log_level: str = Field(default="INFO", description="Log level")
    log_json: bool | None = Field(default=None, description="JSON logs; default: JSON unless stdout is a TTY")
    log_pseudonym_key: Secret = Field(description="HMAC key that turns matricules into log-safe references")
    notify_public_key: NotifyPublicKey = Field(
        default=None, validation_alias="DSP_NOTIFY_PUBLIC_KEY",
        description="notify's public key (base64 X25519, not a secret): producers seal the secret parameters of "
                    "notification requests (codes, passwords) to it; needed by every worker that sends them")
    service_key: ServiceKey | None = Field(
        default=None, validation_alias="DSP_SERVICE_KEY",
        description="This service's Ed25519 private key (base64 seed): it signs its calls to other services")
    service_public_keys: str = Field(
        default="", validation_alias="DSP_SERVICE_PUBLIC_KEYS",
        description="name=base64,... : every service's public key, to check who calls an internal API")
    allowed_hosts: str = Field(
        default="127.0.0.1,localhost,::1", validation_alias="DSP_ALLOWED_HOSTS",
        description="Host names (comma-separated) this service's HTTP port answers to; another Host is refused")
    max_attempts: int = Field(default=3, ge=1, le=50, description="Processing failures before the DLQ")
    retry_backoff_max_s: float = Field(default=30.0, gt=0, description="Cap of the dependency retry backoff")

    @model_validator(mode="after")
    def _mongo_user_and_password(self) -> Self:
        if (self.mongo_username is None) != (self.mongo_password is None):
            raise ValueError("DSP_MONGO_USERNAME and DSP_MONGO_PASSWORD go together: set both or neither")
        return self

    @model_validator(mode="after")
    def _kafka_credentials(self) -> Self:
        if self.kafka_security_protocol != "PLAINTEXT" and not (self.kafka_username and self.kafka_password):
            raise ValueError(f"DSP_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs DSP_KAFKA_USERNAME "
                             "and DSP_KAFKA_PASSWORD (this service's Kafka principal)")
        return self

    @property
    def hosts(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip())

    def door(self) -> Door:
        """The check every internal HTTP API of this service applies to its callers."""
        from .http import Door
        from .servicetokens import RememberingVerifier, Verifier, parse_public_keys

        keys = parse_public_keys(self.service_public_keys)
        return Door(self.hosts, RememberingVerifier(Verifier(self.service, keys)) if keys else None)

    def signer(self) -> Signer:
        """This service's signer of calls to other services (fails fast without a key)."""
        from .servicetokens import Signer

        if self.service_key is None:
            raise ValueError(f"DSP_SERVICE_KEY is not set: {self.service} cannot prove who it is to other services "
                             "(generate keys with: python -m services.kit.servicetokens)")
        return Signer(self.service, self.service_key.get_secret_value())

    @property
    def group_id(self) -> str:
        return f"{self.kafka_group_prefix}{self.service}"

    @property
    def mongo_db(self) -> str:
        return f"{self.mongo_db_prefix}_{self.service}"


S = TypeVar("S", bound=ServiceSettings)


def load(cls: type[S]) -> S:
    """Build the settings or exit with a clear message (never echoing a secret's value)."""
    try:
        return cls()
    except ValidationError as exc:
        lines = [f"{cls.service}: invalid configuration"]
        for err in exc.errors(include_input=False, include_url=False):
            field = ".".join(str(p) for p in err["loc"]).upper()
            if not field:  # a check across variables: its message names them
                lines.append(f"  {err['msg']}")
                continue
            variable = field if field.startswith("DSP_") else f"DSP_{field}"  # aliased fields name the variable
            lines.append(f"  {variable}: {err['msg']}")
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None
