"""Files up to the README's 5 MiB, end to end on the real stack (issue 24: a valid 1.6 MiB PNG answered 500,
`MessageSizeTooLargeError`, Kafka's 1 MiB default): a patient's upload through the real gateway, and a laboratory's
result carrying a file, are stored and read back byte for byte; a file over 5 MiB is a 413 problem."""

from __future__ import annotations

import base64
import math
from datetime import date
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from tests import sample_files
from tests.integration import test_gateway
from tests.integration.access_support import fresh_matricule
from tests.integration.test_gateway import onboard, problem_of
from tests.support import encode, eventually, lab_result

portal = test_gateway.portal  # the gateway's world (activation, access, notify, the gateway; the session's records)
MIB = 1024 * 1024


def png_of(mib: float) -> bytes:
    """A valid PNG of about `mib` MiB: random pixels, which do not compress."""
    side = math.isqrt(int(mib * MIB / 3))
    data = sample_files.image("PNG", (side, side), noisy=True)
    assert abs(len(data) / MIB - mib) < 0.02, len(data)
    return data


async def _applied(web: httpx.AsyncClient, command_id: str) -> dict[str, Any] | None:
    outcome: dict[str, Any] = (await web.get(f"/v1/me/commands/{command_id}")).json()
    return outcome if outcome["status"] != "pending" else None


async def test_a_4_9_mib_png_is_stored_and_read_back_whole_and_5_1_mib_is_a_413(
        portal: dict[str, Any], producer: AIOKafkaProducer, unique: str) -> None:
    matricule = fresh_matricule(date(1981, 3, 17), int(unique[:4], 16))
    web = await onboard(portal, producer, matricule, f"upl.{unique}")
    try:
        image = png_of(4.9)
        assert 4.85 * MIB < len(image) < 5 * MIB
        sent = await web.post("/v1/me/documents", json={"title": "Radiographie thorax", "content_type": "image/png",
                                                          "data_base64": base64.b64encode(image).decode()})
        assert sent.status_code == 202, sent.text
        outcome = await eventually(lambda: _applied(web, sent.json()["command_id"]), within_s=60)
        assert outcome["status"] == "applied", outcome
        doc_id = sent.json()["document_id"]
        served = await web.get(f"/v1/me/documents/{doc_id}/file")
        assert served.status_code == 200 and served.headers["content-type"] == "image/png"
        assert served.content == image  # byte for byte
        detail = (await web.get(f"/v1/me/documents/{doc_id}")).json()
        assert detail["file"] == {"content_type": "image/png", "size": len(image)}

        too_big = png_of(5.1)
        assert len(too_big) > 5 * MIB
        refused = await web.post("/v1/me/documents", json={"title": "Scanner", "content_type": "image/png",
                                                             "data_base64": base64.b64encode(too_big).decode()})
        problem = problem_of(refused, 413, "body-too-large")
        assert problem["reason"] == f"the file is {len(too_big)} bytes; at most {5 * MIB} bytes are accepted"
    finally:
        await web.aclose()


async def test_a_laboratory_result_with_a_4_9_mib_file_is_stored_whole(
        portal: dict[str, Any], producer: AIOKafkaProducer, unique: str) -> None:
    matricule = fresh_matricule(date(1979, 6, 2), int(unique[:4], 16))
    web = await onboard(portal, producer, matricule, f"labf.{unique}")
    try:
        image, lab = png_of(4.9), f"LAB-{unique}"
        body = lab_result(lab, "BIG", f"big-{unique}", patient_matricule=matricule, title="Imagerie",
                          attachment={"content_type": "image/png", "data_base64": base64.b64encode(image).decode()})
        await producer.send_and_wait("lab.results.v1", encode(body), key=f"{lab}:BIG".encode())

        async def listed() -> list[dict[str, Any]] | None:
            items: list[dict[str, Any]] = (await web.get("/v1/me/documents")).json()["items"]
            return items or None
        [doc] = await eventually(listed, within_s=60)
        assert doc["has_file"] and doc["title"] == "Imagerie"
        served = await web.get(f"/v1/me/documents/{doc['id']}/file")
        assert served.status_code == 200 and served.content == image
    finally:
        await web.aclose()
