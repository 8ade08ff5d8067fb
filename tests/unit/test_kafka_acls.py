"""The Kafka ACL table (infra/kafka_acls.py): names only real topics, keeps the helpdesk and laboratory rules, and
compose's generated kafka-access job is up to date with it."""

from pathlib import Path

from infra.kafka_acls import PRINCIPALS, all_acls, compose_script, rights
from schemas.topics import all_topics

ROOT = Path(__file__).resolve().parents[2]


def test_every_acl_names_a_real_topic_and_a_known_principal() -> None:
    topics = set(all_topics())
    for acl in all_acls("p-"):
        assert acl.principal.removeprefix("User:") in PRINCIPALS
        if acl.resource == "TOPIC":
            assert acl.name in topics, acl


def test_the_doors_of_issue_11() -> None:
    table = rights()
    assert [p for p, r in table.items() if "activation.commands.v1" in r["write"]] == ["console"]
    assert table["laboratory"] == {"read": set(), "write": {"lab.results.v1", "lab.results.fhir.v1"}}
    assert table["registry"] == {"read": set(), "write": {"registry.persons.v1"}}
    assert table["directory"] == {"read": set(), "write": {"directory.professionals.v1", "directory.laboratories.v1"}}
    assert "directory.laboratories.v1" in table["records"]["read"]  # a laboratory's keys: records checks signatures
    # who may announce a laboratory's keys: the directory (and the console, replaying a dead letter), no laboratory
    assert {p for p, r in table.items() if "directory.laboratories.v1" in r["write"]} == {"directory", "console"}
    assert "access.commands.v1" in table["gateway"]["write"] and table["gateway"]["read"] == {"access.events.v1"}
    for worker in ("records", "activation", "access", "notify"):  # each dead-letters what it reads, nothing else
        dlq = {t for t in table[worker]["write"] if t.endswith(".dlq")}
        assert dlq == {f"{t}.dlq" for t in table[worker]["read"]}, worker


def test_the_compose_job_script_is_generated_from_the_table() -> None:
    assert (ROOT / "infra" / "kafka-access.sh").read_text() == compose_script(), \
        "run: python -m infra.kafka_acls > infra/kafka-access.sh"
