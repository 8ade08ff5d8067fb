"""A patient's upload is parsed whole before it is accepted, and files go back to browsers as downloads.

- The real type (from the bytes) must be the declared one: PDF, JPEG or PNG.
- PDF: pypdf must open it without having to guess its structure (no rebuilt cross-reference table, no missing
  end-of-file marker), read its page tree (at least one page), and decrypt it if it is encrypted (only with the
  empty password, otherwise nobody could read it); nothing but whitespace after the last `%%EOF`. Content
  streams are not decompressed (a small file could inflate to gigabytes).
- JPEG / PNG: Pillow's `verify()`, then a fresh `open()` and `load()` (every pixel decoded: truncated files
  fail), at most `MAX_PIXELS`; a PNG ends with its IEND chunk, a JPEG with its end-of-image marker.
- No HTML/SVG/script markup in the first KiB of any of them (what a browser sniffs): a `%PDF-` header
  followed by HTML, or a PNG header followed by SVG, is refused — and served files carry
  `Content-Disposition: attachment` and `nosniff` anyway.

Parsing runs in a worker thread, two at a time, so a large file neither blocks the event loop nor lets
concurrent uploads take the gateway's memory.

An accepted file goes to records inside its command, on Kafka (`records.commands.v1`, base64 in the JSON): one path
for the file and its command, so the command's idempotency, its retries and its dead letter (with the original
bytes, replayable) hold for the file too, and records needs no second door for writes. A 5 MiB file is a 6.7 MiB
record, over Kafka's 1 MiB default: the topics that carry files take `schemas.topics.FILE_MESSAGE_BYTES` (8 MiB;
`max.message.bytes`, set by `infra` when it creates or finds them), as do the producers that write them (this
gateway's, records', the dead-letter writer, the console's replays) and records' consumers. (The alternative, the
file over records' HTTP API and a reference on Kafka, would need records to accept writes over HTTP and to collect
files whose command never came.)
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import threading
import uuid
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from struct import error as struct_error
from typing import Any

from PIL import Image, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import DependencyError, PyPdfError

MAX_BYTES = 5 * 1024 * 1024  # records' limit (records.domain.documents.MAX_ATTACHMENT_BYTES): larger refused
MAX_PIXELS = 40_000_000  # a 600-dpi A4 scan is 35 megapixels
MAX_PAGES = 2_000
MAGIC = {"application/pdf": b"%PDF-", "image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}
EXTENSIONS = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
MARKUP = re.compile(rb"<\s*(?:!doctype|html|head|body|script|svg|iframe|object|embed|meta|\?xml)", re.IGNORECASE)
# pypdf's warnings that mean "the structure was broken and I guessed it"
GUESSED = re.compile(r"rebuil|startxref|EOF marker not found|truncated|[Rr]oot found|Invalid Root|Object Streams")
UPLOAD_NAMESPACE = uuid.UUID("6f1d9c3e-2b7a-5e41-9c0d-4a8e7f2b1d30")  # records' id namespace (domain.NAMESPACE)
_parsing = ThreadPoolExecutor(max_workers=2, thread_name_prefix="upload-parse")  # shared by every loop


class Refused(ValueError):
    def __init__(self, reason: str, status: int = 422) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


def upload_id(command_id: str) -> str:
    """The document id records gives an upload (services.records.domain.documents.upload_id, copied: the gateway
    does not import the records service)."""
    return str(uuid.uuid5(UPLOAD_NAMESPACE, f"patient-upload\x1f{command_id}"))


def detected(data: bytes) -> str | None:
    return next((t for t, magic in MAGIC.items() if data.startswith(magic)), None)


def check(content_type: str, data: bytes) -> None:
    """Raise Refused (with the reason, 413 or 422) unless `data` is a whole, parseable file of `content_type`."""
    if len(data) > MAX_BYTES:
        raise Refused(f"the file is {len(data)} bytes; at most {MAX_BYTES} bytes are accepted", 413)
    real = detected(data)
    if real is None:
        raise Refused(f"the file is not a PDF, JPEG or PNG (declared {content_type})")
    if real != content_type:
        raise Refused(f"the file is {real}, not the declared {content_type}")
    if MARKUP.search(data[:1024]):
        raise Refused("the file contains HTML or SVG markup")
    if real == "application/pdf":
        _pdf(data)
    else:
        _image(real, data)


async def check_async(content_type: str, data: bytes) -> None:
    await asyncio.get_running_loop().run_in_executor(_parsing, check, content_type, data)


class _Guessed(logging.Handler):
    """Collects pypdf's warnings per thread while a PDF is being parsed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.active: dict[int, list[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        found = self.active.get(threading.get_ident())
        if found is not None:
            found.append(record.getMessage())

    @contextmanager
    def watch(self) -> Iterator[list[str]]:
        found: list[str] = []
        self.active[threading.get_ident()] = found
        try:
            yield found
        finally:
            self.active.pop(threading.get_ident(), None)


_pypdf_log = logging.getLogger("pypdf")
_guessed = _Guessed()
_pypdf_log.addHandler(_guessed)
if _pypdf_log.getEffectiveLevel() > logging.WARNING:
    _pypdf_log.setLevel(logging.WARNING)


def _pdf(data: bytes) -> None:
    tail = data[data.rfind(b"%%EOF") + 5:] if b"%%EOF" in data else None
    if tail is None or tail.strip(b" \t\r\n\f\x00"):
        raise Refused("the PDF does not end with its end-of-file marker (truncated, or something appended)")
    with _guessed.watch() as warned:
        try:
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted and not reader.decrypt(""):
                raise Refused("the PDF is encrypted with a password; upload it without one")
            pages = len(reader.pages)
            if pages:
                reader.pages[0].mediabox  # noqa: B018 - reading the first page's dictionary parses it
        except Refused:
            raise
        except DependencyError:  # AES needs the cryptography package, which the gateway does not ship
            raise Refused("the PDF is encrypted in a way the portal cannot read; upload it without encryption") \
                from None
        except (PyPdfError, ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError,
                NotImplementedError, OSError) as exc:
            raise Refused(f"the PDF cannot be read ({type(exc).__name__})") from None
    broken = [w for w in warned if GUESSED.search(w)]
    if broken:
        raise Refused(f"the PDF is damaged: {broken[0][:120]}")
    if pages < 1:
        raise Refused("the PDF has no page")
    if pages > MAX_PAGES:
        raise Refused(f"the PDF has {pages} pages; at most {MAX_PAGES} are accepted")


def _image(content_type: str, data: bytes) -> None:
    fmt = {"image/jpeg": "JPEG", "image/png": "PNG"}[content_type]
    if content_type == "image/png" and not data.endswith(b"IEND\xaeB`\x82"):
        raise Refused("the PNG does not end with its IEND chunk (truncated, or something appended)")
    if content_type == "image/jpeg" and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise Refused("the JPEG does not end with its end-of-image marker (truncated, or something appended)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise Refused(f"the image is {image.width}×{image.height}; at most {MAX_PIXELS} pixels")
                image.verify()
            with Image.open(io.BytesIO(data), formats=[fmt]) as image:
                image.load()
    except Refused:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Refused(f"the file is not a readable {fmt} image ({type(exc).__name__})") from None
    except (OSError, SyntaxError, ValueError, TypeError, IndexError, struct_error) as exc:
        raise Refused(f"the {fmt} image is damaged ({exc})"[:200]) from None


FILE_RESPONSE: dict[int | str, dict[str, Any]] = {200: {  # the OpenAPI answer of a route that serves a file
    "description": "The file, as a download (Content-Disposition: attachment)",
    "content": {media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in MAGIC}}}


def download_headers(document_id: str, content_type: str) -> dict[str, str]:
    """A served file is a download with a safe ASCII name, never rendered by the browser."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", document_id)[:64].strip(".") or "document"
    return {"Content-Disposition": f'attachment; filename="{name}.{EXTENSIONS.get(content_type, "bin")}"',
            "X-Content-Type-Options": "nosniff"}
