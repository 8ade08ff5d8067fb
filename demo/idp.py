"""A demo professional identity provider: prints a fresh signed assertion to paste in the portal's /pro/login.

python -m demo.idp PRO-1000 [--key KEY] [--ttl SECONDS]

The assertion is the gateway's model of the eHealth identity provider's (`services.gateway.pro_assertion`):
base64url JSON {"sub", "iat", "exp", "jti"} signed with HMAC-SHA256 under the key the gateway checks,
`DSP_GATEWAY_PRO_IDP_KEY`. The key is `--key`, else that variable, else the one `make run` generated in its state
folder (`$DSP_STATE_DIR/professional-idp.key`). It lives `--ttl` seconds (at most 300) and is used once. The
professional must be listed in the directory: `make run`'s demo laboratory publishes PRO-1000 and PRO-1001."""

from __future__ import annotations

import argparse
import os
import sys
import time

from infra.local import default_state_dir
from services.gateway.pro_assertion import ASSERTION_MAX_S, SUBJECT, sign


def key_of(given: str | None) -> bytes:
    """The identity provider's key, as the gateway reads it (the text's UTF-8 bytes)."""
    if given:
        return given.encode()
    if os.environ.get("DSP_GATEWAY_PRO_IDP_KEY"):
        return os.environ["DSP_GATEWAY_PRO_IDP_KEY"].encode()
    kept = default_state_dir() / "professional-idp.key"
    if kept.is_file():
        return kept.read_text().strip().encode()
    raise SystemExit("no key: give --key, set DSP_GATEWAY_PRO_IDP_KEY, or start the mesh with `make run` first")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.idp", description=__doc__.splitlines()[0])
    parser.add_argument("professional_id", help="The professional's directory id, e.g. PRO-1000")
    parser.add_argument("--key", help="The key shared with the gateway (default: $DSP_GATEWAY_PRO_IDP_KEY)")
    parser.add_argument("--ttl", type=int, default=ASSERTION_MAX_S, help="Seconds it is valid (at most 300)")
    args = parser.parse_args(argv)
    if not SUBJECT.fullmatch(args.professional_id):
        parser.error("a directory id is 1-64 characters of A-Z a-z 0-9 . _ -")
    if not 0 < args.ttl <= ASSERTION_MAX_S:
        parser.error(f"--ttl is 1 to {ASSERTION_MAX_S} seconds")
    now = int(time.time())
    print(sign(key_of(args.key), args.professional_id, now + args.ttl, issued=now))
    return 0


if __name__ == "__main__":
    sys.exit(main())
