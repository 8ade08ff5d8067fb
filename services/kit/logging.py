"""structlog configuration: JSON outside a TTY, contextvars first, and redaction of personal secrets."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog
from aiokafka.errors import CommitFailedError

from . import matricules

REDACTED = "[REDACTED]"
# Keys whose values never reach a log in clear, whatever their shape.
_SENSITIVE_KEY = re.compile(
    r"matricule|password|passwd|activation_code|^code$|otp|one_time|presence|token|secret|captcha_answer"
    r"|recipient|email|mobile|phone|data_base64|authorization|cookie",
    re.IGNORECASE,
)


def redact_text(text: str) -> str:
    """Free text with every matricule masked: a 13-digit run that starts with a plausible birth date (1850-2099),
    check digits right or wrong (millisecond timestamps pass), and a valid matricule written in groups with spaces,
    dots or dashes (`kit.matricules`). What every log line and every dead letter's reason goes through."""
    return matricules.redact(text, REDACTED)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: REDACTED if _SENSITIVE_KEY.search(str(k)) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_scrub(v) for v in value]
    return value


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: sensitive keys become [REDACTED]; matricules in text are masked."""
    event_dict.pop("color_message", None)  # uvicorn's duplicate of `event` with ANSI colours
    for key in list(event_dict):
        if _SENSITIVE_KEY.search(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _scrub(event_dict[key])
    return event_dict


class Pseudonymizer:
    """Log-safe, stable reference for a matricule: HMAC-SHA256 under a secret key, 16 hex characters."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __call__(self, matricule: str) -> str:
        return hmac.new(self._key, matricule.encode(), hashlib.sha256).hexdigest()[:16]


def _rebalance_is_not_critical(record: logging.LogRecord) -> bool:
    """FastStream logs an offset commit refused during a consumer-group rebalance as CRITICAL. It is routine:
    the new owner of the partition gets the message again and the effects are idempotent. Say so, as a warning."""
    exc = record.exc_info[1] if record.exc_info else None
    if isinstance(exc, CommitFailedError):
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.msg, record.args, record.exc_info = (
            "offset commit lost to a consumer-group rebalance; the message will be redelivered (idempotent)", (), None)
    return True


def configure(service: str, level: str = "INFO", json: bool | None = None) -> None:
    """Route structlog and the standard library (FastStream, aiokafka, pymongo) through one pipeline."""
    use_json = (not sys.stdout.isatty()) if json is None else json
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_rebalance_is_not_critical)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "pymongo", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    structlog.contextvars.bind_contextvars(service=service)
