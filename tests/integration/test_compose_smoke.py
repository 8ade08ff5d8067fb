"""`docker compose up` on a Docker host, end to end: the whole mesh from compose.yaml, a laboratory publishes a
result through the host's Kafka listener (127.0.0.1:19092), and a patient — from the activation letter in notify's
/letters volume, the one-time code in Mailpit, the login code at the SMS sink — reads it through the portal API.

Runs only where a Docker engine answers (skipped here otherwise, with the reason); it uses `docker compose`, or
the Compose binary `infra.tools` builds when the engine has no compose plugin. The ports are compose's own
(8100-8105, 19092, 8025, ...): stop a running `docker compose up` or `make run` first.
    uv run pytest tests/integration/test_compose_smoke.py -s
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pypdf import PdfReader

from tests.support import ROOT, SigningProducer, encode, eventually, lab_result, make_matricule, person

PROJECT = "dsp-mesh-smoke"
GATEWAY = "http://127.0.0.1:8100"
CODE = re.compile(r"\b[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}\b")


pytestmark = pytest.mark.docker_host

def _engine() -> str | None:
    """Why no test can run here, or None when a Docker engine answers."""
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means: no usable engine
        return f"no Docker engine answers ({type(exc).__name__}): the compose smoke test needs one"
    return None


def _compose() -> list[str]:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True,
                                                 check=False).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("go") is None:
        pytest.skip("the Docker engine has no compose plugin and Go is missing to build one")
    from infra.tools import COMPOSE, install

    return [str(install(COMPOSE))]


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    reason = _engine()
    if reason:
        pytest.skip(reason)
    from tests.unit.test_docker_host import keys  # every secret compose.yaml demands, as .env would hold them

    env = {**_clean_env(), **keys()}
    base = [*_compose(), "--project-directory", str(ROOT), "-f", str(ROOT / "compose.yaml"), "-p", PROJECT]

    def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                              check=False)

    def logs() -> str:
        return run("logs", "--no-color", "--tail", "60").stdout[-20000:]

    try:
        up = run("up", "--detach", "--build", timeout=1800)
        assert up.returncode == 0, up.stderr[-5000:] + logs()
        deadline = time.monotonic() + 300
        while not _ready(f"{GATEWAY}/health/ready"):
            assert time.monotonic() < deadline, "the gateway was not ready within 300 s\n" + logs()
            time.sleep(2)
        yield {"run": run, "logs": logs, "tmp": tmp_path_factory.mktemp("compose-smoke"), "env": env}
    finally:
        run("down", "--volumes", "--remove-orphans", timeout=300)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("DSP_")}


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:  # noqa: S310 - loopback
            return bool(answer.status == 200)
    except OSError:
        return False


async def test_a_lab_result_in_and_a_patient_reads_it(mesh: dict[str, Any]) -> None:
    from altcha.v1 import solve_challenge

    from services.activation.service import NS

    tag = uuid.uuid4().hex[:8]
    patient = make_matricule(date(1971, 3, 9), int(tag[:3], 16) % 1000)
    mail, mobile = f"smoke.{tag}@example.lu", "+35262" + str(int(tag[:6], 16) % 10**7).zfill(7)
    def as_principal(name: str) -> AIOKafkaProducer:  # the host's listener, as the registry or a laboratory
        return AIOKafkaProducer(bootstrap_servers="127.0.0.1:19092", acks="all", security_protocol="SASL_PLAINTEXT",
                                sasl_mechanism="SCRAM-SHA-512", sasl_plain_username=name,
                                sasl_plain_password=mesh["env"][f"DSP_KAFKA_PASSWORD_{name.upper()}"])

    registry, laboratory, directory = as_principal("registry"), as_principal("laboratory"), as_principal("directory")
    await registry.start()
    await laboratory.start()
    await directory.start()
    try:
        await registry.send_and_wait("registry.persons.v1", encode(person(patient, f"reg-{tag}", email=mail,
                                                                          mobile=mobile)), key=patient.encode())
        lab = f"LAB-{tag}"
        signer = SigningProducer(laboratory, "127.0.0.1:19092", directory)  # signed, its key announced
        await signer.send_and_wait("lab.results.v1", encode(lab_result(lab, patient_matricule=patient,
                                                                       title="Hémogramme")),
                                   key=f"{lab}:R1".encode())
    finally:
        await registry.stop()
        await laboratory.stop()
        await directory.stop()

    letter = f"activation-{uuid.uuid5(NS, f'letter:{patient}:1')}.pdf"
    local = mesh["tmp"] / letter

    async def fetched() -> Path | None:  # out of notify's letters volume, as the README says
        done = mesh["run"]("cp", f"notify:/letters/{letter}", str(local), timeout=60)
        return local if done.returncode == 0 and local.stat().st_size > 0 else None

    await eventually(fetched, within_s=180, every_s=2)
    code = CODE.findall("".join(page.extract_text() for page in PdfReader(local).pages))[0]

    async with httpx.AsyncClient(base_url=GATEWAY, timeout=30) as web:
        challenge = (await web.post("/v1/activation/altcha")).json()
        solution = solve_challenge(challenge["challenge"], challenge["salt"], challenge["algorithm"],
                                   challenge["maxnumber"])
        assert solution is not None
        payload = {k: challenge[k] for k in ("algorithm", "challenge", "salt", "signature")}
        altcha = base64.b64encode(json.dumps({**payload, "number": solution.number}).encode()).decode()
        started = await web.post("/v1/activation/start", json={
            "matricule": patient, "activation_code": code, "terms_version": "2026-01", "altcha": altcha})
        assert started.status_code == 200, started.text
        assert (await web.post("/v1/activation/set-password", json={"password": "Mullerthal-Trail-19"})).is_success
        assert (await web.post("/v1/activation/choose-channel", json={"channel": "email"})).is_success
        mailed = await eventually(lambda: _mailpit_code(mail), within_s=90, every_s=1)
        assert (await web.post("/v1/activation/verify-otp", json={"code": mailed})).is_success
        assert (await web.post("/v1/activation/skip-luxtrust", json={})).is_success
        assert (await web.post("/v1/activation/confirm", json={})).json()["reason"] == "account activated"
        login = await web.post("/v1/login", json={"matricule": patient, "password": "Mullerthal-Trail-19",
                                                  "channel": "sms"})
        assert login.is_success, login.text
        texted = await eventually(lambda: _texted_code(mobile), within_s=90, every_s=1)
        assert (await web.post("/v1/login/verify", json={"code": texted})).is_success

        async def documents() -> list[dict[str, Any]] | None:
            reply = await web.get("/v1/me/documents")
            assert reply.status_code == 200, reply.text
            return reply.json()["items"] or None

        found = await eventually(documents, within_s=120, every_s=1)
        assert found is not None
        assert [d["title"] for d in found] == ["Hémogramme"], mesh["logs"]()


async def _mailpit_code(to: str) -> str | None:
    """The newest one-time code e-mailed to `to`, from Mailpit's API (its web UI: http://127.0.0.1:8025)."""
    async with httpx.AsyncClient(base_url="http://127.0.0.1:8025", timeout=10) as mailpit:
        listed = (await mailpit.get("/api/v1/messages")).json()["messages"]
        for message in listed:  # newest first
            if to in [a["Address"] for a in message["To"]]:
                text = (await mailpit.get(f"/api/v1/message/{message['ID']}")).json()["Text"]
                found = re.search(r"\b(\d{6})\b", text)
                if found:
                    return found.group(1)
    return None


async def _texted_code(to: str) -> str | None:
    async with httpx.AsyncClient(timeout=10) as client:
        sent = (await client.get("http://127.0.0.1:8125/messages")).json()
    found = [re.search(r"\b(\d{6})\b", s["text"]) for s in sent if s["to"] == to]
    return found[-1].group(1) if found and found[-1] else None
