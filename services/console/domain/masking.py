"""Dead-letter payload previews for operators: masked by default, unmasked only on an explicit (audited) request.

Masked means: every run of nine or more digits (a matricule is 13; a mistyped one, a phone number or an account
number is as identifying), and every matricule written in groups (`1982 0101 123 80`, `198201.0112380`,
`R-19820101-12380-x`: a valid one, spaces, dots or dashes between its groups — `services.kit.matricules`), becomes
bullets wherever it appears — keys, strings, the record's key and headers, the dead letter's reason; every
number becomes `MASK` (observation values, reference ranges, doses, ages); and a string is shown only under a key
known to carry no personal or clinical value (identifiers of messages and reports, status, times, LOINC codes and
test names, units — `SHOWN`). Anything else — observation values and texts, interpretations, names, addresses,
birth dates, e-mail addresses, phone numbers, codes, passwords, attachments — is `MASK`. A payload that is not JSON
is masked by a lenient scan with the same rules (a quoted string after a key, a number, a bare word).

Pure functions, no I/O."""

from __future__ import annotations

import json
import re
from typing import Any

from services.kit import matricules

MASK = "•••"
PREVIEW_CHARS = 4000
MAX_PARSED_BYTES = 8 * 1024 * 1024

LONG_DIGITS = re.compile(r"(?<!\d)\d{9,}(?!\d)")
SHOWN = frozenset({
    # envelopes, ids and times
    "messageid", "requestid", "eventid", "commandid", "correlationid", "laboratoryid", "reportid", "documentid",
    "versionid", "prescriberid", "professionalid", "templateid", "status", "kind", "type", "command", "change",
    "channel", "locale", "delivery", "documenttype", "contenttype", "collectedat", "reportedat", "createdat",
    "occurredat", "sentat", "endedat", "at", "title", "reason", "source", "service",
    # what a result is about, never its value
    "loinc", "display", "unit", "system", "resourcetype", "id", "fullurl", "profile", "issued", "lastupdated",
    "effectivedatetime", "reference", "url", "mode", "method", "request",
})
HIDDEN = (  # a subtree under such a key is masked whole (FHIR's valueCodeableConcept has a `display`, too)
    "value", "interpretation", "referencerange", "text", "note", "conclusion", "presentedform", "name", "givenname",
    "familyname", "address", "postaladdress", "telecom", "email", "mobile", "phone", "birth", "password", "secret",
    "token", "otp", "sealed", "data", "code")
_BULLET = "•"


def _key(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


def _bullets(text: str) -> str:
    return re.sub(r"\d", _BULLET, text)


def mask_digits(text: str) -> str:
    """Every run of nine or more digits, and every matricule written in groups, becomes bullets (digit for digit;
    the separators between groups stay)."""
    return LONG_DIGITS.sub(lambda m: _BULLET * len(m.group()), matricules.replace(text, _bullets))


def _hidden(key: str) -> bool:
    return key.startswith(HIDDEN)


def _mask(value: Any, shown: bool) -> Any:
    if isinstance(value, dict):
        return {mask_digits(str(k)): MASK if _hidden(_key(str(k))) else _mask(v, shown=_key(str(k)) in SHOWN)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, shown) for v in value]
    if value is None:
        return None
    if isinstance(value, str):
        return mask_digits(value) if shown else MASK
    if isinstance(value, bool):
        return value if shown else MASK
    return MASK  # numbers, whatever the key


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?(?P<colon>\s*:)?|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[A-Za-z_][\w.@+-]*|[\[\]{}]')


def _mask_text(text: str) -> str:
    """The same rules on text that is not JSON (broken, truncated, another format): a lenient scan that follows
    keys and brackets — a string after a shown key is kept, anything under a hidden key is masked whole."""
    out, last, key = [], 0, ""
    depth, hidden_from = 0, None  # hidden_from: the bracket depth at which a hidden key's subtree started
    for m in _TOKEN.finditer(text):
        out.append(text[last:m.start()])
        token, last = m.group(), m.end()
        if token in ("{", "["):
            depth += 1
            if hidden_from is None and _hidden(key):
                hidden_from = depth
            key = ""
            out.append(token)
            continue
        if token in ("}", "]"):
            if hidden_from is not None and depth <= hidden_from:
                hidden_from = None
            depth = max(0, depth - 1)
            key = ""
            out.append(token)
            continue
        hidden = hidden_from is not None
        if token.startswith('"') and m.group("colon"):  # a key: kept (digit runs masked), remembered
            out.append(mask_digits(token))
            key = _key(token.split(":")[0].strip().strip('"'))
        elif token.startswith('"'):
            keep = key in SHOWN and not _hidden(key) and not hidden
            inner = token[1:-1] if len(token) > 1 and token.endswith('"') else token[1:]
            out.append(f'"{mask_digits(inner)}"' if keep else f'"{MASK}"')
        elif token in ("true", "false", "null"):
            out.append(token if key in SHOWN and not hidden else MASK)
        else:  # a number or a bare word
            out.append(MASK)
    out.append(text[last:])
    return "".join(out)


def _parsed(raw: bytes) -> Any:
    if len(raw) > MAX_PARSED_BYTES:
        raise ValueError("too large to parse")
    return json.loads(raw)


def _shorten_attachments(value: Any) -> Any:
    """Unmasked previews keep everything but the bytes of attachments (base64 is no preview)."""
    if isinstance(value, dict):
        return {k: (f"‹{len(v)} base64 characters›" if _key(str(k)) in ("database64", "data") and isinstance(v, str)
                    and len(v) > 80 else _shorten_attachments(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_shorten_attachments(v) for v in value]
    return value


def _clip(text: str) -> tuple[str, bool]:
    return (text[:PREVIEW_CHARS], True) if len(text) > PREVIEW_CHARS else (text, False)


def preview(raw: bytes | None, masked: bool = True) -> dict[str, Any]:
    """A dead letter's value for the screen: `text` (at most PREVIEW_CHARS), `json` (whether it parsed), `bytes`
    (its size), `truncated`, `masked`."""
    raw = raw or b""
    try:
        value, is_json = _parsed(raw), True
    except (ValueError, UnicodeDecodeError, RecursionError):
        value, is_json = None, False
    if is_json:
        shaped = _mask(value, shown=False) if masked else _shorten_attachments(value)
        text = json.dumps(shaped, ensure_ascii=False, indent=2)
    else:
        decoded = raw[: PREVIEW_CHARS * 4].decode(errors="replace")
        text = _mask_text(decoded) if masked else decoded
    clipped, truncated = _clip(text)
    truncated = truncated or (not is_json and len(raw) > PREVIEW_CHARS * 4)
    return {"text": clipped, "json": is_json, "bytes": len(raw), "truncated": truncated, "masked": masked}


def mask_key(key: bytes | None, masked: bool = True) -> str | None:
    """A record's key (a matricule for some topics): digit runs masked unless unmasked was asked for."""
    if key is None:
        return None
    text = key[:200].decode(errors="replace")
    return mask_digits(text) if masked else text
