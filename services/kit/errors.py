"""How a failure is classified: bad input (dead letter now), a dependency down (wait), or a fault (retry, then DLQ)."""

from __future__ import annotations

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError, RequestTimedOutError
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure, OperationFailure, ServerSelectionTimeoutError, WTimeoutError

from .logging import redact_text


class BadMessage(Exception):
    """The message itself is wrong: it goes to the dead-letter topic with this reason, at once."""


TRANSIENT: tuple[type[BaseException], ...] = (
    ConnectionFailure, ServerSelectionTimeoutError, WTimeoutError,
    KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError, RequestTimedOutError,
    ConnectionError, TimeoutError,
)
"""A dependency is unreachable: the message is fine, so wait and try again, never dead-letter it."""


def is_bad_input(exc: BaseException) -> bool:
    return isinstance(exc, BadMessage | ValidationError | UnicodeDecodeError)


def reason(exc: BaseException, limit: int = 900) -> str:
    """A short, human-readable reason that never echoes the offending input values, and never names a person: a
    matricule a message quotes (a FHIR reference `Observation/<matricule>`, an id that embeds one) is masked as the
    logs mask it (`logging.redact_text`), before the reason is cut to `limit`."""
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors(include_input=False, include_url=False, include_context=False):
            where = ".".join(str(p) for p in err["loc"])
            parts.append(f"{where}: {err['msg']}" if where else err["msg"])
        text = "; ".join(parts)
    elif isinstance(exc, OperationFailure):  # its message quotes the document it refused: keep only the kind
        text = f"the database refused the operation (code {exc.code})"
    elif isinstance(exc, UnicodeDecodeError):
        text = f"value is not UTF-8 text (byte {exc.start})"
    else:
        text = str(exc) or type(exc).__name__
    return redact_text(" ".join(text.split()))[:limit]
