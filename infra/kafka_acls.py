"""Who may do what on Kafka: one SCRAM principal per service and per outside producer, each allowed exactly its
topics. Derived from `schemas.topics` (each Topic's producers and consumers), corrected where that text is not
what the code does (`_NOT_IN_CODE`, `_ALSO_IN_CODE`, each correction says why). The broker denies everything else
(`allow.everyone.if.no.acl.found=false`); `admin` is the only super user (topics, users, ACLs, the tests' reads).

=============  ==========================================================  ==========================================
principal      Write (produce)                                             Read (consume; group = <prefix><service>)
=============  ==========================================================  ==========================================
records        records.document-added.v1, records.document-visibility.v1,  lab.results.v1, lab.results.fhir.v1,
               lab.results.v1 and lab.results.fhir.v1 (parked results      records.commands.v1, registry.persons.v1,
               released); the .dlq of each topic it reads                  directory.laboratories.v1 (group and
                                                                           every replica without one); group records
activation     activation.events.v1, activation.accounts.v1,               activation.commands.v1,
               notify.requests.v1; .dlq of what it reads                   registry.persons.v1; group activation
access         access.events.v1, access.changes.v1, access.grant-expired,  access.commands.v1, registry.persons.v1,
               access.commands.v1 (its own internal commands),             directory.professionals.v1 (group and
               notify.requests.v1, access.audit-heads.v1 (the only         every replica without one),
               writer); .dlq of what it reads                              records.document-visibility.v1,
                                                                           activation.accounts.v1,
                                                                           access.changes.v1 and
                                                                           access.audit-heads.v1 (no group);
                                                                           group access
notify         notify.events.v1; .dlq of what it reads                     notify.requests.v1, registry.persons.v1,
                                                                           activation.accounts.v1 (the channel a
                                                                           person chose); group notify
gateway        access.commands.v1, records.commands.v1                     access.events.v1 (no group)
console        activation.commands.v1 (helpdesk: the only producer);       every .dlq topic (no group); Describe on
               every source topic (replays of dead letters)                the workers' groups (lag)
laboratory     lab.results.v1, lab.results.fhir.v1                         —
registry       registry.persons.v1                                         —
directory      directory.professionals.v1, directory.laboratories.v1       —
=============  ==========================================================  ==========================================

Read and Write imply Describe (metadata, offsets); idempotent producers need Write on a topic only (KIP-679).
Consumer groups carry the deployment's prefix (`DSP_KAFKA_GROUP_PREFIX`), so the group ACLs are made for a given
prefix: `python -m infra` grants the configured one, the tests grant each prefix they start workers with.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.topics import TOPICS, Topic

WORKERS = ("records", "activation", "access", "notify")
SERVICES = (*WORKERS, "gateway", "console")
OUTSIDE = ("laboratory", "registry", "directory")
PRINCIPALS = (*SERVICES, *OUTSIDE)
ADMIN = "admin"

# The words of `Topic.producers` that name a principal.
_PRODUCER_WORDS = {"laboratories": "laboratory", "registry": "registry", "directory": "directory",
                   "helpdesk": "console", **{s: s for s in SERVICES}}

_NOT_IN_CODE: dict[tuple[str, str, str], str] = {
    # (principal, "read" | "write", topic): why the ACL is not given though schemas.topics names it
    ("records", "write", "notify.requests.v1"): "records asks nothing of notify (notify reads document-added itself)",
    ("access", "read", "records.document-added.v1"): "access learns of blocked documents from document-visibility",
    ("gateway", "read", "records.document-added.v1"): "the gateway reads only access.events.v1",
    ("gateway", "read", "access.grant-expired.v1"): "the gateway reads only access.events.v1",
    ("console", "read", "notify.events.v1"): "the console reads dead letters and offsets only",
    ("console", "read", "activation.events.v1"): "the console reads dead letters and offsets only",
    ("console", "read", "activation.accounts.v1"): "the console reads dead letters and offsets only",
    ("console", "read", "access.grant-expired.v1"): "the console reads dead letters and offsets only",
}
_ALSO_IN_CODE: dict[tuple[str, str, str], str] = {
    ("records", "write", "lab.results.v1"): "a parked result is published again once its patient is known",
    ("records", "write", "lab.results.fhir.v1"): "a bundle signed with a key not announced yet is published again "
                                                 "once it is",
    ("access", "write", "access.commands.v1"): "document-visibility becomes a command for the patient's partition",
    # not into a compacted topic: its records are its producer's state (access's signed audit checkpoints: only
    # access writes them, and nobody dead-letters one)
    **{("console", "write", t.name): "the console replays a dead letter to its source topic" for t in TOPICS
       if not t.compacted},
}


def _producers(topic: Topic) -> set[str]:
    words = topic.producers.replace(",", " ").replace("(", " ").split()
    return {_PRODUCER_WORDS[w] for w in words if w in _PRODUCER_WORDS}


def _consumers(topic: Topic) -> set[str]:
    return {c.split()[0] for c in topic.consumers if c.split()[0] in SERVICES}


def rights() -> dict[str, dict[str, set[str]]]:
    """principal -> {"read": topics, "write": topics}: the table above."""
    out: dict[str, dict[str, set[str]]] = {p: {"read": set(), "write": set()} for p in PRINCIPALS}
    for topic in TOPICS:
        for p in _producers(topic):
            out[p]["write"].add(topic.name)
        for p in _consumers(topic):
            out[p]["read"].add(topic.name)
    for principal, kind, topic_name in _NOT_IN_CODE:
        out[principal][kind].discard(topic_name)
    for principal, kind, topic_name in _ALSO_IN_CODE:
        out[principal][kind].add(topic_name)
    for worker in WORKERS:  # every worker dead-letters what it reads
        out[worker]["write"] |= {f"{t}.dlq" for t in out[worker]["read"]}
    out["console"]["read"] |= {t.dlq for t in TOPICS}
    return out


@dataclass(frozen=True, order=True)
class Acl:
    resource: str  # TOPIC | GROUP
    name: str
    principal: str  # User:<name>
    operation: str  # READ | WRITE | DESCRIBE
    pattern: str = "LITERAL"

    def line(self) -> str:
        return f"acl {self.resource} {self.pattern} {self.name} {self.principal} {self.operation}"


def group_acls(group_prefix: str) -> list[Acl]:
    """Each worker reads its own consumer group; the console describes them (lag)."""
    acls = [Acl("GROUP", f"{group_prefix}{w}", f"User:{w}", "READ") for w in WORKERS]
    return acls + [Acl("GROUP", f"{group_prefix}{w}", "User:console", "DESCRIBE") for w in WORKERS]


def topic_acls() -> list[Acl]:
    acls = []
    for principal, kinds in rights().items():
        for kind, topics in kinds.items():
            acls += [Acl("TOPIC", t, f"User:{principal}", kind.upper()) for t in sorted(topics)]
    return sorted(acls)


def all_acls(group_prefix: str = "") -> list[Acl]:
    return topic_acls() + group_acls(group_prefix)


def compose_script() -> str:
    """The `kafka-access` job of compose.yaml (the apache/kafka image's own tools): every principal's SCRAM
    credential from its PASSWORD_<NAME> variable (compose: from .env's DSP_KAFKA_PASSWORD_<NAME>), then these
    ACLs (groups without prefix)."""
    out = ["#!/bin/sh", "# Generated from infra/kafka_acls.py by `python -m infra.kafka_acls > infra/kafka-access.sh`:",
           "# do not edit. Run by compose's one-shot `kafka-access` job as the super user admin (SASL PLAIN).",
           "set -eu", "B=kafka:9092", "C=/tmp/admin.properties", "umask 077",
           "printf 'security.protocol=SASL_PLAINTEXT\\nsasl.mechanism=PLAIN\\nsasl.jaas.config=org.apache.kafka.common."
           "security.plain.PlainLoginModule required username=\"admin\" password=\"%s\";\\n' "
           "\"$ADMIN_PASSWORD\" > \"$C\"",
           "bin=/opt/kafka/bin"]
    for p in PRINCIPALS:
        out.append(f'"$bin/kafka-configs.sh" --bootstrap-server "$B" --command-config "$C" --alter --entity-type users '
                   f'--entity-name {p} --add-config "SCRAM-SHA-512=[iterations=8192,password=$PASSWORD_'
                   f'{p.upper()}]" > /dev/null')
    by_call: dict[tuple[str, str, str], list[str]] = {}
    for acl in all_acls(""):
        by_call.setdefault((acl.principal, acl.operation, acl.resource), []).append(acl.name)
    for (principal, operation, resource), names in sorted(by_call.items()):
        flag = "--topic" if resource == "TOPIC" else "--group"
        resources = " ".join(f"{flag} {n}" for n in names)
        out.append(f'"$bin/kafka-acls.sh" --bootstrap-server "$B" --command-config "$C" --add --allow-principal '
                   f'{principal} --operation {operation.capitalize()} {resources} > /dev/null')
    out.append('echo "kafka-access: users and ACLs of infra/kafka_acls.py in place"')
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(compose_script(), end="")
