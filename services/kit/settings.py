"""Settings: one pydantic-settings object per service, environment prefix DSP_, fail fast on bad secrets."""

from __future__ import annotations

import sys
from typing import Annotated, ClassVar, TypeVar

from pydantic import AfterValidator, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDERS = {"changeme", "change-me", "change_me", "secret", "password", "placeholder", "todo",
                 "xxx", "example", "default", "test", "dev"}


def _real_secret(value: SecretStr) -> SecretStr:
    raw = value.get_secret_value().strip()
    lowered = raw.lower()
    if lowered in _PLACEHOLDERS or lowered.startswith(("changeme", "change-me", "<", "${")) or len(raw) < 16:
        raise ValueError("is missing or a placeholder: set a random value of at least 16 characters")
    return value


Secret = Annotated[SecretStr, AfterValidator(_real_secret)]


class ServiceSettings(BaseSettings):
    """What every worker needs. Subclasses set `service` and their own HTTP port variable."""

    model_config = SettingsConfigDict(env_prefix="DSP_", extra="ignore", frozen=True)
    service: ClassVar[str] = "service"

    kafka_bootstrap: str = Field(default="127.0.0.1:19092", description="Kafka bootstrap servers")
    mongo_uri: str = Field(default="mongodb://127.0.0.1:27027/", description="MongoDB-protocol server URI")
    mongo_db_prefix: str = Field(default="dsp", pattern=r"^[A-Za-z0-9_]{1,40}$",
                                 description="Each service owns the database <prefix>_<service>")
    kafka_group_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]{0,60}$",
                                    description="Prefix of the consumer group (tests isolate themselves with it)")
    http_host: str = Field(default="127.0.0.1", description="Address of the health/metrics endpoint")
    http_port: int = Field(default=8100, description="Port of the health/metrics endpoint (per-service variable)")
    log_level: str = Field(default="INFO", description="Log level")
    log_json: bool | None = Field(default=None, description="JSON logs; default: JSON unless stdout is a TTY")
    log_pseudonym_key: Secret = Field(description="HMAC key that turns matricules into log-safe references")
    max_attempts: int = Field(default=3, ge=1, le=50, description="Processing failures before the DLQ")
    retry_backoff_max_s: float = Field(default=30.0, gt=0, description="Cap of the dependency retry backoff")

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
            field = ".".join(str(p) for p in err["loc"])
            lines.append(f"  DSP_{field.upper()}: {err['msg']}")
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None
