"""A demo laboratory and registry: publishes persons, professionals and realistic lab results to the mesh.

python -m demo.laboratory [--count N] [--interval S] — N results (0 = until stopped), one every S seconds;
about one in twenty is deliberately wrong so the dead-letter topic has something to show.

Each kind of message goes with its own Kafka principal, as the real senders would: DSP_REGISTRY_KAFKA_USERNAME/
_PASSWORD (persons), DSP_DIRECTORY_KAFKA_... (professionals, and the laboratories with their signing keys),
DSP_LABORATORY_KAFKA_... (results), with DSP_KAFKA_SECURITY_PROTOCOL / DSP_KAFKA_SASL_MECHANISM; PLAINTEXT without
credentials for an unsecured broker.

Each demo laboratory signs its results with its own Ed25519 key (`services.kit.labsign`; records refuses a result
that is not signed by the laboratory it names): one key per laboratory, generated once in DSP_DEMO_LAB_KEY_DIR
(`make run`: the state folder's `lab-keys/`; else `$DSP_STATE_DIR/lab-keys` or `~/.local/state/dsp-mesh/lab-keys`),
mode 600, and announced with the laboratory's name on `directory.laboratories.v1` at every start (the same
announcement again changes nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from stdnum import luhn, verhoeff

from services.kit.kafka_auth import options_from_env
from services.kit.labsign import LaboratoryKey

PANELS: dict[str, list[tuple[str, str, float, str, float, float]]] = {
    "Hémogramme": [("718-7", "Hémoglobine", 14.1, "g/dL", 12.0, 16.0),
                   ("6690-2", "Leucocytes", 6.8, "10*9/L", 4.0, 10.0),
                   ("777-3", "Plaquettes", 250, "10*9/L", 150, 400)],
    "Bilan lipidique": [("2093-3", "Cholestérol total", 5.2, "mmol/L", 0, 5.0),
                        ("2085-9", "HDL cholestérol", 1.4, "mmol/L", 1.0, 3.0)],
    "Glycémie": [("2345-7", "Glucose", 5.4, "mmol/L", 3.9, 6.1), ("4548-4", "HbA1c", 5.6, "%", 4.0, 6.0)],
    "Fonction rénale": [("2160-0", "Créatinine", 80, "umol/L", 60, 110)],
}
LABS = ("LAB-KETTERTHILL", "LAB-BIONEXT", "LAB-LNS")
LAB_NAMES = {"LAB-KETTERTHILL": "Laboratoires Ketterthill", "LAB-BIONEXT": "BioneXt Lab",
             "LAB-LNS": "Laboratoire national de santé"}


def matricule(birth: date, serial: int) -> str:
    base = f"{birth:%Y%m%d}{serial:03d}"
    return base + luhn.calc_check_digit(base) + verhoeff.calc_check_digit(base)


PATIENTS = [matricule(date(1950 + 7 * i, 1 + i % 12, 1 + (3 * i) % 28), 100 + i) for i in range(8)]
DEMO_PERSON = PATIENTS[6]  # Anne Muller, born 1992: the person `make run` invites to walk the portal
# the endless stream goes to the other patients: the demo person's home page (her five latest results) keeps
# showing what the README promises however long her walk takes (a result for her every ~16 s buried them)
STREAM_PATIENTS = [p for p in PATIENTS if p != DEMO_PERSON]
CHILDREN = [(matricule(date(2016, 5, 12), 310), "Léa"), (matricule(date(2019, 9, 3), 311), "Tom")]  # hers


def person(m: str, i: int) -> dict[str, Any]:
    return {"message_id": f"reg-{m[-6:]}", "matricule": m, "given_name": ["Marie", "Luc", "Anne", "Jos"][i % 4],
            "family_name": ["Weber", "Schmit", "Muller", "Wagner"][i % 4], "birth_date": f"{m[:4]}-{m[4:6]}-{m[6:8]}",
            "postal_address": {"line1": f"{10 + i} rue de l'Alzette", "postal_code": "L-4011",
                               "locality": "Esch-sur-Alzette"},
            "email": f"patient{i}@example.lu"}


def child(m: str, given: str) -> dict[str, Any]:
    """A minor of the demo person's, who is their legal guardian (so she can switch to their DSPs)."""
    parent = person(DEMO_PERSON, PATIENTS.index(DEMO_PERSON))
    return {**parent, "message_id": f"reg-{m[-6:]}", "matricule": m, "given_name": given,
            "birth_date": f"{m[:4]}-{m[4:6]}-{m[6:8]}", "guardians": [DEMO_PERSON]}


def first_results(now: datetime) -> list[tuple[bytes, bytes]]:
    """What the demo person finds at once: a blood count with a high value, a lipid panel later corrected, and
    one result for each child."""
    out = []
    for n, (panel, patient, days, factor) in enumerate([
            ("Hémogramme", DEMO_PERSON, 20, 1.3), ("Bilan lipidique", DEMO_PERSON, 9, 1.0),
            ("Glycémie", CHILDREN[0][0], 5, 1.0), ("Fonction rénale", CHILDREN[1][0], 3, 1.0)]):
        at = now - timedelta(days=days)
        observations = [{"loinc": loinc, "display": display, "value": round(typical * (factor if i == 0 else 1), 1),
                         "unit": unit, "reference_low": low, "reference_high": high,
                         "interpretation": "H" if typical * (factor if i == 0 else 1) > high else "N"}
                        for i, (loinc, display, typical, unit, low, high) in enumerate(PANELS[panel])]
        body = {"message_id": f"demo-first-{n}-{patient}", "laboratory_id": LABS[n % 3], "report_id": f"DEMO-{n}",
                "status": "final", "patient_matricule": patient, "prescriber_id": "PRO-1000",
                "collected_at": (at - timedelta(hours=6)).isoformat(), "reported_at": at.isoformat(),
                "title": panel, "observations": observations}
        out.append((f"{body['laboratory_id']}:DEMO-{n}".encode(), json.dumps(body, ensure_ascii=False).encode()))
        if panel == "Bilan lipidique":  # the laboratory corrects a value a day later
            fixed = json.loads(json.dumps(body))
            fixed.update(message_id=f"demo-first-{n}-{patient}-corrected", status="corrected",
                         reported_at=(at + timedelta(days=1)).isoformat())
            fixed["observations"][0].update(value=5.6, interpretation="H")
            out.append((out[-1][0], json.dumps(fixed, ensure_ascii=False).encode()))
    return out


def professional(i: int) -> dict[str, Any]:
    return {"message_id": f"dir-{i}", "professional_id": f"PRO-{1000 + i}", "given_name": ["Paul", "Claire"][i % 2],
            "family_name": ["Hoffmann", "Thill"][i % 2], "profession": "Médecin",
            "specialty": ["Médecine générale", "Cardiologie"][i % 2], "practice_id": "CAB-ESCH-1"}


def lab_result(rng: random.Random, now: datetime, mistakes: float = 0.05,
               patients: Sequence[str] = PATIENTS) -> tuple[bytes, bytes]:
    lab, panel = rng.choice(LABS), rng.choice(list(PANELS))
    report = f"R-{uuid.uuid4().hex[:10]}"
    observations = []
    for loinc, display, typical, unit, low, high in PANELS[panel]:
        value = round(typical * rng.uniform(0.8, 1.25), 1)
        flag = "H" if value > high else "L" if value < low else "N"
        observations.append({"loinc": loinc, "display": display, "value": value, "unit": unit,
                             "reference_low": low, "reference_high": high, "interpretation": flag})
    body: dict[str, Any] = {
        "message_id": str(uuid.uuid4()), "laboratory_id": lab, "report_id": report, "status": "final",
        "patient_matricule": rng.choice(patients), "prescriber_id": "PRO-1000",
        "collected_at": (now - timedelta(hours=6)).isoformat(), "reported_at": now.isoformat(),
        "title": panel, "observations": observations,
    }
    if rng.random() < mistakes:  # a laboratory's mistake: a mistyped matricule
        body["patient_matricule"] = body["patient_matricule"][:-1] + str((int(body["patient_matricule"][-1]) + 1) % 10)
    return f"{lab}:{report}".encode(), json.dumps(body, ensure_ascii=False).encode()


READS = ("DSP_KAFKA_BOOTSTRAP", "DSP_KAFKA_SECURITY_PROTOCOL", "DSP_KAFKA_SASL_MECHANISM",  # options_from_env
         "DSP_LABORATORY_KAFKA_USERNAME", "DSP_LABORATORY_KAFKA_PASSWORD", "DSP_REGISTRY_KAFKA_USERNAME",
         "DSP_REGISTRY_KAFKA_PASSWORD", "DSP_DIRECTORY_KAFKA_USERNAME", "DSP_DIRECTORY_KAFKA_PASSWORD",
         "DSP_DEMO_LAB_KEY_DIR", "DSP_STATE_DIR")


def key_dir(env: Mapping[str, str]) -> Path:
    if env.get("DSP_DEMO_LAB_KEY_DIR"):
        return Path(env["DSP_DEMO_LAB_KEY_DIR"])
    state = Path(env["DSP_STATE_DIR"]) if env.get("DSP_STATE_DIR") else Path.home() / ".local" / "state" / "dsp-mesh"
    return state / "lab-keys"


def lab_keys(folder: Path) -> dict[str, LaboratoryKey]:
    """Each demo laboratory's signing key, generated once in `folder` (mode 600, created so), then read back."""
    keys = {}
    for lab in LABS:
        path = folder / f"{lab}.key"
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.chmod(0o600)
            path.write_text(LaboratoryKey.new(lab).seed + "\n")
        keys[lab] = LaboratoryKey.from_seed(lab, path.read_text().strip())
    return keys


def signed(keys: Mapping[str, LaboratoryKey], key: bytes, value: bytes) -> list[tuple[str, bytes]]:
    """A result's headers: its laboratory's signature (the laboratory its key names)."""
    return keys[key.decode().split(":")[0]].headers("lab.results.v1", key, value)


async def _producer(env: Mapping[str, str], principal: str, within_s: float = 120.0) -> AIOKafkaProducer:
    """A producer as `principal`, once the broker answers (a busy machine can make the first try time out)."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        producer = AIOKafkaProducer(**options_from_env(env, f"DSP_{principal.upper()}_KAFKA_"), acks="all",
                                    enable_idempotence=True, client_id=f"demo-{principal}")
        try:
            await producer.start()
            return producer
        except KafkaConnectionError:
            await producer.stop()
            if asyncio.get_running_loop().time() > deadline:
                raise
            print(f"[demo] Kafka not reachable yet as {principal}; retrying", flush=True)
            await asyncio.sleep(2)


async def main(count: int, interval: float, env: Mapping[str, str]) -> None:
    registry = await _producer(env, "registry")
    try:
        for i, m in enumerate(PATIENTS):
            await registry.send_and_wait("registry.persons.v1", json.dumps(person(m, i)).encode(), key=m.encode())
        for m, given in CHILDREN:
            await registry.send_and_wait("registry.persons.v1", json.dumps(child(m, given)).encode(), key=m.encode())
    finally:
        await registry.stop()
    keys = lab_keys(key_dir(env))
    directory = await _producer(env, "directory")
    try:
        for i in range(2):
            await directory.send_and_wait("directory.professionals.v1", json.dumps(professional(i)).encode(),
                                          key=f"PRO-{1000 + i}".encode())
        for lab, key in keys.items():  # each laboratory's name and signing key
            await directory.send_and_wait("directory.laboratories.v1", json.dumps(
                key.listing(LAB_NAMES[lab]), ensure_ascii=False).encode(), key=lab.encode())
    finally:
        await directory.stop()
    producer = await _producer(env, "laboratory")
    rng = random.Random()  # noqa: S311 - demo data, not security
    try:
        for key, value in first_results(datetime.now(UTC)):  # the same message ids at every start: stored once
            await producer.send_and_wait("lab.results.v1", value, key=key, headers=signed(keys, key, value))
        sent = 0
        while count == 0 or sent < count:
            key, value = lab_result(rng, datetime.now(UTC), patients=STREAM_PATIENTS)
            await producer.send_and_wait("lab.results.v1", value, key=key, headers=signed(keys, key, value))
            sent += 1
            await asyncio.sleep(interval)
    finally:
        await producer.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args()
    try:
        asyncio.run(main(args.count, args.interval, os.environ))
    except KeyboardInterrupt:
        pass
