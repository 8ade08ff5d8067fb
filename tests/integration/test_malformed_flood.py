"""Hundreds of generated malformed lab results on one partition, between good ones: each bad one reaches the
DLQ with a reason, every good one is stored, the worker never crashes."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.support import Worker, encode, eventually, header, lab_result, read_topic

REQUIRED = ["message_id", "laboratory_id", "report_id", "status", "patient_matricule", "collected_at", "reported_at"]
junk = st.one_of(st.none(), st.booleans(), st.integers(), st.lists(st.integers(), max_size=2),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@st.composite
def malformed(draw: st.DrawFn) -> bytes:
    body = lab_result("LAB-X")
    kind = draw(st.sampled_from(["bytes", "missing", "wrong-type", "status", "matricule", "naive-time", "loinc",
                                 "no-observations", "interpretation", "order", "nul", "not-object"]))
    if kind == "bytes":
        return b"\xff" + draw(st.binary(max_size=200))  # never UTF-8 JSON
    if kind == "missing":
        del body[draw(st.sampled_from(REQUIRED))]
    elif kind == "wrong-type":
        body[draw(st.sampled_from(["status", "observations", "collected_at"]))] = draw(junk)
    elif kind == "status":
        body["status"] = draw(st.text(max_size=12).filter(
            lambda s: s not in ("preliminary", "final", "corrected", "cancelled")))
    elif kind == "matricule":
        m = body["patient_matricule"]
        i = draw(st.integers(0, 12))
        body["patient_matricule"] = m[:i] + str((int(m[i]) + draw(st.integers(1, 9))) % 10) + m[i + 1:]
    elif kind == "naive-time":
        body["reported_at"] = "2026-11-20T14:30:00"
    elif kind == "loinc":
        body["observations"][0]["loinc"] = draw(st.from_regex(r"[A-Za-z ]{1,8}", fullmatch=True))
    elif kind == "no-observations":
        body["observations"] = []
    elif kind == "interpretation":
        body["observations"][0]["interpretation"] = draw(st.sampled_from(["X", "high", "", "NN"]))
    elif kind == "order":
        body["collected_at"] = "2026-11-21T08:00:00+01:00"
    elif kind == "nul":
        body["title"] = "Hémo\x00gramme"
    else:
        return json.dumps(draw(st.lists(st.integers(), max_size=3))).encode()
    return encode(body)


def generate(count: int) -> list[bytes]:
    """Let hypothesis draw `count` malformed payloads (one example of a list, generation phase only)."""
    drawn: list[bytes] = []

    @settings(max_examples=1, phases=[Phase.generate], database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(malformed(), min_size=count, max_size=count))
    def draw(payloads: list[bytes]) -> None:
        drawn[:] = payloads

    draw()
    return drawn


async def test_malformed_flood_is_dead_lettered_and_the_partition_moves_on(
        records: Worker, producer: Any, mongo: Any, run_id: str, unique: str, infra: Any) -> None:
    payloads = generate(220)
    lab = f"LAB-{unique}"
    sends = []
    for i, payload in enumerate(payloads):
        sends.append(await producer.send("lab.results.v1", payload, key=f"{lab}:H{i}".encode(), partition=0))
        if i % 20 == 0:  # good results between the bad ones, on the same partition
            good = lab_result(lab, report=f"G{i}", message_id=f"good-{i}")
            sends.append(await producer.send("lab.results.v1", encode(good), key=f"{lab}:G{i}".encode(), partition=0))
    for sent in sends:
        await sent

    dead = await read_topic(infra.bootstrap, "lab.results.v1.dlq", f"{lab}:H".encode(), count=len(payloads),
                            within_s=120, group=f"{run_id}-records")
    by_key = {r.key: r for r in dead}
    assert len(by_key) == len(payloads) == len(dead)
    for i, payload in enumerate(payloads):
        record = by_key[f"{lab}:H{i}".encode()]
        assert record.value == payload
        assert header(record, "dlq-reason") and header(record, "dlq-kind") == "invalid"
    documents = mongo[f"{run_id}_records"]["documents"]
    stored = await eventually(lambda: _count(documents, lab, 11))
    assert stored
    assert records.proc is not None and records.proc.poll() is None
    assert '"level": "critical"' not in records.logs()


async def _count(documents: Any, lab: str, n: int) -> bool:
    return await documents.count_documents({"laboratory_id": lab}) == n
