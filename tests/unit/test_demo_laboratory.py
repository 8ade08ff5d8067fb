"""The demo laboratory signs what it sends (issue 24): one key per demo laboratory, made once in its folder (mode
600) and read back, announced with its name; each result's signature is its own laboratory's and verifies."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

from demo.laboratory import LAB_NAMES, LABS, first_results, key_dir, lab_keys, lab_result, signed
from schemas.directory import LaboratoryListedV1
from services.kit import labsign


def test_each_demo_laboratory_has_its_own_key_made_once(tmp_path: Path) -> None:
    folder = tmp_path / "lab-keys"
    keys = lab_keys(folder)
    assert sorted(keys) == sorted(LABS) and len({k.kid for k in keys.values()}) == 3
    assert all((folder / f"{lab}.key").stat().st_mode & 0o777 == 0o600 for lab in LABS)
    assert {lab: k.kid for lab, k in lab_keys(folder).items()} == {lab: k.kid for lab, k in keys.items()}
    for lab, key in keys.items():
        listed = LaboratoryListedV1.model_validate(key.listing(LAB_NAMES[lab]))
        assert (listed.laboratory_id, listed.keys[0].kid, listed.keys[0].status) == (lab, key.kid, "active")
    assert key_dir({"DSP_DEMO_LAB_KEY_DIR": str(folder)}) == folder
    assert key_dir({"DSP_STATE_DIR": str(tmp_path)}) == folder


def test_every_result_is_signed_by_the_laboratory_it_names(tmp_path: Path) -> None:
    keys = lab_keys(tmp_path)
    rng = random.Random(3)
    sent = [*first_results(datetime.now(UTC)), *(lab_result(rng, datetime.now(UTC)) for _ in range(30))]
    for key, value in sent:
        lab = json.loads(value)["laboratory_id"]
        [(name, signature)] = signed(keys, key, value)
        assert name == labsign.HEADER
        head = labsign.verify(signature.decode(), labsign.public_key(keys[lab].public), "lab.results.v1", key, value)
        assert head["kid"] == keys[lab].kid
