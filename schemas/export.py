"""python -m schemas.export [--check] — JSON Schema per topic and one AsyncAPI document from the apps.

Writes schemas/json/<topic>.schema.json and schemas/asyncapi.yaml. With --check, writes nothing and
exits 1 if the committed files differ from what the code generates (CI runs this through a test).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .topics import TOPICS

HERE = Path(__file__).resolve().parent


def json_schemas() -> dict[Path, str]:
    out = {}
    for topic in TOPICS:
        schema = topic.value.model_json_schema(mode="validation")
        schema["$id"] = f"urn:dsp-mesh:topic:{topic.name}"
        schema["x-kafka"] = {"topic": topic.name, "key": topic.key, "dead_letter_topic": topic.dlq,
                             "partitions": topic.partitions, "producers": topic.producers,
                             "consumers": list(topic.consumers)}
        if topic.compacted:
            schema["x-kafka"]["cleanup_policy"] = "compact"
        if topic.max_message_bytes is not None:
            schema["x-kafka"]["max_message_bytes"] = topic.max_message_bytes
        out[HERE / "json" / f"{topic.name}.schema.json"] = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    return out


def asyncapi() -> str:
    """AsyncAPI 3.0 of every worker's subscriptions, generated from the FastStream apps themselves."""
    from faststream.specification import AsyncAPI

    from services.access.app import AccessSettings
    from services.access.app import create_app as access
    from services.activation.app import ActivationSettings
    from services.activation.app import create_app as activation
    from services.notify.app import NotifySettings
    from services.notify.app import create_app as notify
    from services.records.app import RecordsSettings
    from services.records.app import create_app as records

    # Building an app opens no connection. Fixed values, so the document never depends on the environment;
    # the keys only satisfy the settings' secret checks (the seal key and records' key are base64 of
    # "schema-export-only-not-a-secret!").
    fixed = {"kafka_bootstrap": "kafka:9092", "log_pseudonym_key": "schema-export-only-not-a-secret"}
    seed = "c2NoZW1hLWV4cG9ydC1vbmx5LW5vdC1hLXNlY3JldCE="  # 32 bytes: a valid X25519 or Ed25519 key
    apps = [records(RecordsSettings.model_validate({**fixed, "DSP_SERVICE_KEY": seed})),
            activation(ActivationSettings.model_validate(
                {**fixed, "DSP_ACTIVATION_CODE_KEY": "schema-export-only-not-a-secret"})),
            access(AccessSettings.model_validate({**fixed, "DSP_ACCESS_AUDIT_KEY": "schema-export-only-not-a-secret",
                                                  "DSP_ACCESS_AUDIT_SIGNING_KEY": seed})),
            notify(NotifySettings.model_validate({**fixed, "DSP_NOTIFY_SEAL_KEY": seed}))]
    spec = AsyncAPI(*[app.broker for app in apps if app.broker is not None], title="dsp-mesh", version="1.0.0",
                    description="Events of the shared health record (DSP) mesh. Each topic has a '<topic>.dlq'.")
    import yaml

    # FastStream's channel order can vary between builds; sorted keys make the document reproducible.
    return str(yaml.safe_dump(spec.to_specification().to_jsonable(), sort_keys=True, allow_unicode=True))


def generated() -> dict[Path, str]:
    return {**json_schemas(), HERE / "asyncapi.yaml": asyncapi()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    stale = [path for path, text in generated().items() if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"out of date: {path.relative_to(HERE.parent)} (run: make schemas)", file=sys.stderr)
        return 1 if stale else 0
    for path, text in generated().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
