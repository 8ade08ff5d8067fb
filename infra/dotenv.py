"""A Docker host's `.env` in one command: every secret compose.yaml demands (each `${VAR:?...}`), made once.

    make dotenv                          # = uv run --frozen python -m infra.dotenv: writes ./.env (mode 600)
    python -m infra.dotenv --output FILE # elsewhere
    docker run --rm $(docker build -q .) python -m infra.dotenv --stdout   # a host without Python: print them

An existing file is never overwritten unless `--force` is given: the MongoDB users are created with these passwords
on the first start of an empty `mongo` volume, and the log pseudonyms, activation codes and audit chains are keyed
with them, so a new `.env` belongs with new volumes (`docker compose down --volumes`).

The values come from the generators the Kubernetes Secrets come from (`infra.k8s_secrets.make`): the Kafka and
MongoDB passwords of `infra.kafka_secrets` and `infra.mongo_secrets` (the MongoDB root's too), each calling service's
Ed25519 key of `services.kit.servicetokens` and every service's public key, notify's X25519 sealing pair of
`services.kit.sealing`, access's audit keys (an HMAC key and the Ed25519 signing key `services.access.signing`
prints), 32 random bytes (hex) for each other HMAC key (log pseudonyms, activation codes, the professional identity
provider's key, which turns the professional login on). Only the variables' names are printed to the terminal.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .k8s_secrets import make
from .mongo_secrets import lines as mongo_lines

ROOT = Path(__file__).resolve().parents[1]
# compose gives these a DSP_SERVICE_KEY: the gateway and the console call internal APIs, records seals FHIR results
SIGNING_SERVICES = ("records", "gateway", "console")
OPTIONAL = ("DSP_GATEWAY_PRO_IDP_KEY",)  # compose's `${VAR:-}`: written so the professionals' login works


def values() -> dict[str, str]:
    """Every .env variable compose.yaml reads for a secret, with a new value (nothing taken from the environment)."""
    made, public, admins = make({})
    root = dict(line.split("=", 1) for line in mongo_lines())["DSP_MONGO_ROOT_PASSWORD"]
    return {
        "DSP_LOG_PSEUDONYM_KEY": made["log-pseudonym"]["DSP_LOG_PSEUDONYM_KEY"],
        "DSP_ACTIVATION_CODE_KEY": made["activation"]["DSP_ACTIVATION_CODE_KEY"],
        "DSP_NOTIFY_SEAL_KEY": made["notify"]["DSP_NOTIFY_SEAL_KEY"],
        "DSP_NOTIFY_PUBLIC_KEY": public["DSP_NOTIFY_PUBLIC_KEY"],
        "DSP_ACCESS_AUDIT_KEY": made["access"]["DSP_ACCESS_AUDIT_KEY"],
        "DSP_ACCESS_AUDIT_SIGNING_KEY": made["access"]["DSP_ACCESS_AUDIT_SIGNING_KEY"],
        **{f"DSP_SERVICE_KEY_{name.upper()}": made[name]["DSP_SERVICE_KEY"] for name in SIGNING_SERVICES},
        "DSP_SERVICE_PUBLIC_KEYS": public["DSP_SERVICE_PUBLIC_KEYS"],
        "DSP_GATEWAY_PRO_IDP_KEY": made["gateway"]["DSP_GATEWAY_PRO_IDP_KEY"],
        "DSP_KAFKA_ADMIN_PASSWORD": made["kafka-admin"]["DSP_KAFKA_PASSWORD"],
        "DSP_MONGO_ROOT_PASSWORD": root,
        **admins,  # DSP_KAFKA_PASSWORD_<PRINCIPAL>, DSP_MONGO_PASSWORD_<SERVICE>
    }


def text(made: dict[str, str]) -> str:
    head = "# dsp-mesh on a Docker host: secrets made by `python -m infra.dotenv`; keep this file to yourself\n"
    return head + "".join(f"{name}={value}\n" for name, value in made.items())


def write(path: Path, content: str, *, force: bool) -> None:
    """`content` to `path`, mode 600; FileExistsError if it exists and not `force`."""
    if force and path.exists():
        temporary = path.with_name(f".{path.name}.new")
        temporary.unlink(missing_ok=True)
        write(temporary, content, force=False)
        temporary.replace(path)
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(content)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.dotenv", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / ".env", help="where to write (default: the repo's .env)")
    parser.add_argument("--force", action="store_true", help="replace an existing file (then: down --volumes)")
    parser.add_argument("--stdout", action="store_true", help="print the lines instead of writing a file")
    args = parser.parse_args(argv)
    made = values()
    if args.stdout:
        sys.stdout.write(text(made))
        return 0
    try:
        write(args.output, text(made), force=args.force)
    except FileExistsError:
        print(f"{args.output} exists: not overwritten (its secrets are in the volumes already; --force replaces it, "
              "then `docker compose down --volumes`)", file=sys.stderr)
        return 2
    print(f"[dotenv] {args.output}: {len(made)} variables (mode 600): {', '.join(made)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
