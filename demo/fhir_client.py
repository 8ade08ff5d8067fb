"""A demo practice's software at the FHIR API: a SMART Backend Services client registered for the demo doctors.

python -m demo.fhir_client [PRO-1000] [--url http://127.0.0.1:8100] [--scope "user/*.read"]

prints a bearer token (5 minutes) for the demo doctor, got as a practice's software gets one: a JWT assertion signed
with the client's own Ed25519 key (iss = sub = `demo-cabinet`, aud = the token endpoint, a fresh jti, naming the
professional in `dsp_professional`) exchanged at `/fhir/r4/auth/token` (`grant_type=client_credentials`). Then:

    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8100/fhir/r4/metadata

`make run` registers the client (`registry`): its key and the registration the gateway reads
(`DSP_GATEWAY_FHIR_CLIENTS_FILE`) live in the state folder (`$DSP_STATE_DIR`, the key mode 600)."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from pathlib import Path

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from jwt.algorithms import OKPAlgorithm

from infra.local import default_state_dir

CLIENT_ID, KID = "demo-cabinet", "demo-1"
PROFESSIONALS = ["PRO-1000", "PRO-1001"]  # the demo laboratory's directory lists them


def _key(state_dir: Path) -> ed25519.Ed25519PrivateKey:
    path = state_dir / "fhir-demo-client.pem"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_bytes(ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise SystemExit(f"{path} is not an Ed25519 key")
    return key


def registry(state_dir: Path) -> Path:
    """The registered clients' file (the demo client's public key), written once: what the gateway reads."""
    path = state_dir / "fhir-clients.json"
    public = {**json.loads(OKPAlgorithm.to_jwk(_key(state_dir).public_key())), "kid": KID, "alg": "EdDSA"}
    path.write_text(json.dumps([{"client_id": CLIENT_ID, "jwks": {"keys": [public]},
                                 "professionals": PROFESSIONALS, "scopes": ["user/*.read"]}], indent=2))
    return path


def assertion(state_dir: Path, token_url: str, professional: str) -> str:
    now = int(time.time())
    return jwt.encode({"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": token_url, "exp": now + 120,
                       "jti": secrets.token_urlsafe(16), "dsp_professional": professional},
                      _key(state_dir), algorithm="EdDSA", headers={"kid": KID})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.fhir_client", description=__doc__.splitlines()[0])
    parser.add_argument("professional_id", nargs="?", default="PRO-1000", choices=PROFESSIONALS)
    parser.add_argument("--url", default="http://127.0.0.1:8100", help="The gateway")
    parser.add_argument("--scope", default="user/*.read")
    args = parser.parse_args(argv)
    state = default_state_dir()
    token_url = f"{args.url.rstrip('/')}/fhir/r4/auth/token"
    reply = httpx.post(token_url, data={
        "grant_type": "client_credentials", "scope": args.scope,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion(state, token_url, args.professional_id)}, timeout=30)
    if reply.status_code != 200:
        print(reply.text, file=sys.stderr)
        return 1
    print(reply.json()["access_token"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
