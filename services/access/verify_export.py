"""Check a downloaded audit trail offline: `python -m services.access.verify_export FILE --keys KEYS`.

FILE is what "Télécharger mon journal signé" saved (`GET /v1/me/audit/export`); KEYS is access's public key set as
the portal publishes it (`GET /v1/audit/public-key`, saved as a file — or fetched with `--keys-url URL`). Checked:
the signature over the whole document (access's audit signing key, a detached EdDSA JWS over its canonical JSON),
the checkpoint's own signature, and that the document is consistent — entries numbered 0, 1, 2 …, the head is the
last entry, the checkpointed entry is in the chain with that hash. Prints what holds and exits 0, or says what does
not and exits 1 (2: a file cannot be read). Needs nothing but this repository's libraries (PyJWT, cryptography).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from collections.abc import Mapping
from typing import Any

from .domain import signing


def check(document: Mapping[str, Any], jwks: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(what holds, what does not) for a signed export and access's key set."""
    keys = signing.public_keys(jwks)
    holds: list[str] = []
    broken: list[str] = []
    try:
        signing.check_document(document, keys)
        holds.append(f"signature: valid (access's key {document['signature'].get('kid')})")
    except signing.BadSignature as exc:
        broken.append(f"signature: NOT VALID — {exc}; nothing in this file can be relied on")
        return holds, broken
    entries = document.get("entries") or []
    if [e.get("seq") for e in entries] != list(range(len(entries))):
        broken.append("entries: not numbered 0, 1, 2 … in order")
    head = document.get("head")
    last = entries[-1] if entries else None
    if (head is None) != (last is None) or (head is not None and last is not None
                                            and (head.get("seq"), head.get("hash")) != (last["seq"], last["hash"])):
        broken.append("head: not the last entry")
    checkpoint = document.get("checkpoint")
    if checkpoint is not None:
        try:
            found = signing.check_checkpoint(str(checkpoint.get("jws")), keys, None)
        except signing.BadSignature as exc:
            broken.append(f"checkpoint: NOT VALID — {exc}")
        else:
            at = entries[found.seq] if 0 <= found.seq < len(entries) else None
            if (found.seq, found.hash) != (checkpoint.get("seq"), checkpoint.get("hash")):
                broken.append("checkpoint: the document and access's signed checkpoint differ")
            elif at is None or at["hash"] != found.hash:
                broken.append(f"checkpoint: entry {found.seq}, as access checkpointed it, is not in the chain")
            else:
                holds.append(f"checkpoint: valid, entry {found.seq} (signed by access)")
    verification = document.get("verification") or {}
    holds.append(f"{len(entries)} entries; when exported, access found: {verification.get('reason', 'unknown')}")
    if verification.get("not_checkpointed"):
        holds.append(f"entries not yet checkpointed when exported: {verification['not_checkpointed']}")
    return holds, broken


def _load(path: str) -> Any:
    with open(path, "rb") as f:
        return json.load(f)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.access.verify_export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", help="the downloaded trail (JSON)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--keys", help="access's public key set (JWKS), saved from GET /v1/audit/public-key")
    where.add_argument("--keys-url", help="where the portal publishes it, e.g. http://127.0.0.1:8100/v1/audit/public-key")
    args = parser.parse_args(argv)
    try:
        document = _load(args.file)
        if args.keys:
            jwks = _load(args.keys)
        else:
            with urllib.request.urlopen(args.keys_url, timeout=10) as reply:  # noqa: S310 - the operator's URL
                jwks = json.load(reply)
    except (OSError, ValueError) as exc:
        print(f"cannot read: {exc}", file=sys.stderr)
        return 2
    if not isinstance(document, dict) or not isinstance(jwks, dict):
        print("cannot read: not a JSON object", file=sys.stderr)
        return 2
    holds, broken = check(document, jwks)
    for line in holds:
        print(f"ok    {line}")
    for line in broken:
        print(f"FAIL  {line}")
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
