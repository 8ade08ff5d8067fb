"""The mesh's Secrets on Kubernetes, with values, made once: every credential deploy/secrets.yaml declares (names and
keys, no values) and the public halves of its keypairs, printed as one Kubernetes List for `kubectl create`:

    uv run --frozen python -m infra.k8s_secrets | kubectl create -f -
    uv run --frozen python -m infra.k8s_secrets --admin-env admins.env | kubectl create -f -

(or in the image: `docker run --rm dsp-mesh:local python -m infra.k8s_secrets | kubectl create -f -`). `create`, not
`apply`: an existing Secret is never overwritten (a new log-pseudonym or sealing key would orphan what the old one
made), and no apply owns them, so `kubectl apply -k deploy/` never empties them.

The values come from the repository's generators — the Kafka and MongoDB passwords of infra.kafka_secrets and
infra.mongo_secrets, the Ed25519 service keys of services.kit.servicetokens, notify's X25519 keypair of
services.kit.sealing, 32 random bytes (hex) for each HMAC key — except the three another party holds, taken from
the environment when set: DSP_KAFKA_ADMIN_PASSWORD (the Kafka cluster's admin, for the topics Job),
DSP_NOTIFY_SMS_TOKEN (the SMS provider's) and DSP_GATEWAY_PRO_IDP_KEY (shared with the professionals' identity
provider). `--admin-env FILE` also writes (mode 600, never over an existing file) the passwords the Kafka and
MongoDB admins give each principal and user, as compose's .env names them (DSP_KAFKA_PASSWORD_<PRINCIPAL>,
DSP_MONGO_PASSWORD_<SERVICE>). Nothing is printed to the terminal but the names of what was made.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path

from services.kit.sealing import new_keypair
from services.kit.servicetokens import new_key

from .ferretdb import MONGO_SERVICES
from .kafka_acls import PRINCIPALS, SERVICES
from .kafka_secrets import lines as kafka_lines
from .mongo_secrets import lines as mongo_lines

NAMESPACE = "dsp-mesh"
PART_OF = {"app.kubernetes.io/part-of": "dsp-mesh"}
FROM_OUTSIDE = ("DSP_KAFKA_ADMIN_PASSWORD", "DSP_NOTIFY_SMS_TOKEN", "DSP_GATEWAY_PRO_IDP_KEY")


def _pairs(lines: list[str]) -> dict[str, str]:
    return dict(line.split("=", 1) for line in lines)


def _hmac_key() -> str:
    return secrets.token_hex(32)


def make(env: Mapping[str, str]) -> tuple[dict[str, dict[str, str]], dict[str, str], dict[str, str]]:
    """(Secret name -> its keys and values, the public keys, the admins' passwords by .env name)."""
    kafka, mongo = _pairs(kafka_lines()), _pairs(mongo_lines())
    service_keys = {name: new_key() for name in SERVICES}
    seal_private, seal_public = new_keypair()
    made: dict[str, dict[str, str]] = {"log-pseudonym": {"DSP_LOG_PSEUDONYM_KEY": _hmac_key()}}
    for name in SERVICES:
        made[name] = {"DSP_KAFKA_PASSWORD": kafka[f"DSP_KAFKA_PASSWORD_{name.upper()}"],
                      "DSP_MONGO_PASSWORD": mongo[f"DSP_MONGO_PASSWORD_{name.upper()}"],
                      "DSP_SERVICE_KEY": service_keys[name][0]}
    made["activation"]["DSP_ACTIVATION_CODE_KEY"] = _hmac_key()
    made["access"].update({"DSP_ACCESS_AUDIT_KEY": _hmac_key(),  # the audit trail's keys
                           "DSP_ACCESS_AUDIT_SIGNING_KEY": new_key()[0]})
    made["notify"].update({"DSP_NOTIFY_SEAL_KEY": seal_private,
                           "DSP_NOTIFY_SMS_TOKEN": env.get("DSP_NOTIFY_SMS_TOKEN") or secrets.token_urlsafe(32)})
    made["gateway"].update({"DSP_GATEWAY_PRO_IDP_KEY": env.get("DSP_GATEWAY_PRO_IDP_KEY") or _hmac_key(),
                            "DSP_GATEWAY_PORTAL_KEY": _hmac_key()})
    made["kafka-admin"] = {"DSP_KAFKA_PASSWORD": env.get("DSP_KAFKA_ADMIN_PASSWORD")
                           or kafka["DSP_KAFKA_ADMIN_PASSWORD"]}
    public = {"DSP_SERVICE_PUBLIC_KEYS": ",".join(f"{name}={pair[1]}" for name, pair in service_keys.items()),
              "DSP_NOTIFY_PUBLIC_KEY": seal_public}
    admins = {**{f"DSP_KAFKA_PASSWORD_{p.upper()}": kafka[f"DSP_KAFKA_PASSWORD_{p.upper()}"] for p in PRINCIPALS},
              **{f"DSP_MONGO_PASSWORD_{s.upper()}": mongo[f"DSP_MONGO_PASSWORD_{s.upper()}"] for s in MONGO_SERVICES}}
    return made, public, admins


def _labels(name: str) -> dict[str, str]:
    own = {"kafka-admin": "topics", "log-pseudonym": None}.get(name, name)
    return {"app.kubernetes.io/name": own, **PART_OF} if own else dict(PART_OF)


def manifest(made: Mapping[str, Mapping[str, str]], public: Mapping[str, str], namespace: str) -> dict[str, object]:
    """A v1 List of the Secrets and the ConfigMap dsp-public-keys (`kubectl create -f -` takes it)."""
    items: list[dict[str, object]] = [
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": {"name": name, "namespace": namespace, "labels": _labels(name)}, "stringData": dict(values)}
        for name, values in made.items()]
    items.append({"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "dsp-public-keys", "namespace": namespace, "labels": dict(PART_OF)},
                  "data": dict(public)})
    return {"apiVersion": "v1", "kind": "List", "items": items}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.k8s_secrets", description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespace", default=NAMESPACE, help=f"the mesh's namespace (default {NAMESPACE})")
    parser.add_argument("--admin-env", type=Path, metavar="FILE",
                        help="also write the Kafka principals' and MongoDB users' passwords there (mode 600)")
    args = parser.parse_args(argv)
    if args.admin_env is not None and args.admin_env.exists():
        print(f"{args.admin_env} exists: not overwritten (these passwords are made once)", file=sys.stderr)
        return 2
    made, public, admins = make(os.environ)
    if args.admin_env is not None:
        fd = os.open(args.admin_env, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("".join(f"{k}={v}\n" for k, v in admins.items()))
    json.dump(manifest(made, public, args.namespace), sys.stdout, indent=1)
    print()
    given = [name for name in FROM_OUTSIDE if os.environ.get(name)]
    print(f"[k8s-secrets] {len(made)} Secrets and ConfigMap dsp-public-keys for namespace {args.namespace}"
          + (f"; from the environment: {', '.join(given)}" if given else "; every value new"), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
