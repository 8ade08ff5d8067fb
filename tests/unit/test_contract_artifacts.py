"""The committed JSON Schemas and AsyncAPI document are what the code generates (contracts change in review)."""

import json

from schemas import export
from schemas.topics import TOPICS, all_topics


def test_committed_schemas_match_the_code() -> None:
    for path, text in export.generated().items():
        assert path.exists(), f"missing {path.name}: run make schemas"
        assert path.read_text() == text, f"{path.name} is out of date: run make schemas"


def test_each_topic_schema_names_its_key_and_dead_letter_topic() -> None:
    for topic in TOPICS:
        schema = json.loads((export.HERE / "json" / f"{topic.name}.schema.json").read_text())
        assert schema["x-kafka"]["dead_letter_topic"] == f"{topic.name}.dlq"
        assert schema["x-kafka"]["key"] == topic.key
        models = [schema, *schema.get("$defs", {}).values()] if "properties" not in schema else [schema]
        for model in models:
            for name, field in model.get("properties", {}).items():
                assert ("description" in field or "$ref" in field or "anyOf" in field or "allOf" in field
                        or name == "command"), f"{topic.name}: {name} has no description"


def test_lab_contract_v1_accepts_exactly_the_agreed_names() -> None:
    schema = json.loads((export.HERE / "json" / "lab.results.v1.schema.json").read_text())
    assert set(schema["properties"]) == {"message_id", "laboratory_id", "report_id", "status", "patient_matricule",
                                         "prescriber_id", "collected_at", "reported_at", "title", "observations",
                                         "attachment"}
    assert set(schema["required"]) == {"message_id", "laboratory_id", "report_id", "status", "patient_matricule",
                                       "collected_at", "reported_at"}


def test_lab_topics_have_at_least_six_partitions_and_every_topic_a_dlq() -> None:
    topics = all_topics()
    assert topics["lab.results.v1"] >= 6
    assert all(f"{t.name}.dlq" in topics for t in TOPICS)
    asyncapi = (export.HERE / "asyncapi.yaml").read_text()
    assert all(f"address: {t.name}" in asyncapi for t in TOPICS)
