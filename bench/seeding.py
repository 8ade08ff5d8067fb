"""Databases that already hold results, stored directly as records stores them (documents and each patient's
index document), for the benchmarks that must not start from an empty database."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient

from demo.laboratory import lab_result, matricule
from schemas.lab_result import LabResultV1
from services.records.domain import documents as domain
from services.records.domain import listing
from services.records.store.shape import stored

T0 = datetime(2026, 11, 30, tzinfo=UTC)


def numbered_matricule(i: int, first_birth: date = date(1950, 1, 1)) -> str:
    """A valid matricule per index, unique for every i: born `first_birth` + i // 1000 days, serial i % 1000."""
    return matricule(first_birth + timedelta(days=i // 1000), i % 1000)


def documents(count: int, people: list[str], rng: random.Random) -> list[dict[str, Any]]:
    """`count` stored lab results (one version each, like most), dated over five years."""
    docs = []
    for i in range(count):
        at = T0 - timedelta(days=rng.randrange(5 * 365), minutes=rng.randrange(1440))
        _, value = lab_result(rng, at, mistakes=0.0)
        body = {**json.loads(value), "patient_matricule": people[i % len(people)]}
        result = LabResultV1.model_validate(body)
        doc, _ = domain.apply(None, result.laboratory_id, result.report_id, domain.to_version(result, at, at))
        docs.append({**doc, "blocked": False})
    return docs


def corrected(doc: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """`doc` with a second version: the laboratory's correction (new values, reported an hour later) — the
    first version kept in its history, as records keeps it."""
    first = doc["current"]
    at = first["reported_at"] + timedelta(hours=1)
    body = {"message_id": f"{first['message_id']}-fix", "laboratory_id": doc["laboratory_id"],
            "report_id": doc["report_id"], "status": "corrected", "patient_matricule": doc["patient_matricule"],
            "prescriber_id": first["prescriber_id"], "collected_at": first["collected_at"].isoformat(),
            "reported_at": at.isoformat(), "title": first["title"],
            "observations": [{**o, "value": round(o["value"] * rng.uniform(0.9, 1.1), 1)} if "value" in o else o
                             for o in first["observations"]]}
    version = domain.to_version(LabResultV1.model_validate(body), at, at)
    fixed, _ = domain.apply({k: v for k, v in doc.items() if k != "blocked"}, doc["laboratory_id"],
                            doc["report_id"], version)
    return {**fixed, "blocked": False}


async def seed(mongo_uri: str, prefix: str, docs: list[dict[str, Any]]) -> None:
    """The documents, their laboratories' message ids (claimed) and each patient's index, in `<prefix>_records`."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri, tz_aware=True)
    db = client[f"{prefix}_records"]
    for start in range(0, len(docs), 1000):
        batch = docs[start:start + 1000]
        await db["documents"].insert_many([stored(d) for d in batch], ordered=False)
        await db["lab_messages"].insert_many([{"_id": f"{d['laboratory_id']}\x1f{d['current']['message_id']}",
                                               "document_id": d["_id"]} for d in batch], ordered=False)
        await db["patient_documents"].insert_many([{"_id": listing.key(d["patient_matricule"], d["_id"]),
                                                    **listing.entry(d), "blocked": False} for d in batch],
                                                  ordered=False)
    await client.close()
