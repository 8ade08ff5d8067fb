"""Sealed notification secrets: only notify's private key opens them, any change is detected, a ciphertext opens
only for the request it was sealed for, and the bytes on the topic never hold the secret."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from schemas.notify import NotificationRequestV1
from services.kit.sealing import (
    SealError,
    SealingNotConfigured,
    new_keypair,
    public_key_of,
    request_binding,
    seal,
    sealed_request_fields,
    unseal,
)
from services.kit.settings import ServiceSettings, load
from services.notify.app import NotifySettings
from services.notify.domain import templates
from tests.support import ROOT, TEST_NOTIFY_PUBLIC_KEY, TEST_NOTIFY_SEAL_KEY

PRIVATE, PUBLIC = new_keypair()
SECRETS = {"code": "KX7P-29QM-H4TW", "password": "tulipe-orange-73"}
PATIENT = "1893120105732"
LOG_KEY = "0f3a9c1e7b2d4f6a8c0e1b3d5f7a9c2e"


def test_round_trip_opens_with_the_private_key_only() -> None:
    sealed = seal(PUBLIC, SECRETS)
    assert unseal(PRIVATE, sealed) == SECRETS
    assert public_key_of(PRIVATE) == PUBLIC
    assert len(base64.b64decode(PRIVATE)) == len(base64.b64decode(PUBLIC)) == 32
    assert seal(PUBLIC, SECRETS) != sealed  # a fresh ephemeral key per seal: equal secrets do not show as equal
    assert "KX7P" not in sealed and "tulipe" not in sealed


def test_tampered_ciphertext_is_a_seal_error() -> None:
    raw = bytearray(base64.b64decode(seal(PUBLIC, SECRETS)))
    for position in (0, 40, len(raw) - 1):  # the ephemeral key, the MAC, the encrypted JSON
        tampered = bytearray(raw)
        tampered[position] ^= 0x01
        with pytest.raises(SealError, match="do not open"):
            unseal(PRIVATE, base64.b64encode(bytes(tampered)).decode())
    with pytest.raises(SealError, match="do not open"):
        unseal(PRIVATE, base64.b64encode(bytes(raw[:-1])).decode())
    with pytest.raises(SealError, match="do not open"):
        unseal(PRIVATE, base64.b64encode(bytes(raw[:20])).decode())  # shorter than a sealed box can be
    with pytest.raises(SealError, match="not base64"):
        unseal(PRIVATE, "not*base64")


def test_wrong_key_is_a_seal_error_that_shows_no_key_nor_value() -> None:
    other_private, other_public = new_keypair()
    with pytest.raises(SealError) as info:
        unseal(other_private, seal(PUBLIC, SECRETS))
    message = str(info.value)
    assert "another key" in message
    assert other_private not in message and PRIVATE not in message and "KX7P" not in message
    with pytest.raises(SealError):
        unseal(PRIVATE, seal(other_public, SECRETS))


def test_a_ciphertext_opens_only_for_the_request_it_was_sealed_for() -> None:
    bound = request_binding("r-1", "email", PATIENT, "marie@example.lu")
    sealed = seal(PUBLIC, SECRETS, bound_to=bound)
    assert unseal(PRIVATE, sealed, bound_to=bound) == SECRETS
    for other in (request_binding("r-2", "email", PATIENT, "marie@example.lu"),
                  request_binding("r-1", "sms", PATIENT, "marie@example.lu"),
                  request_binding("r-1", "email", PATIENT, "mallory@example.com"),
                  request_binding("r-1", "email", PATIENT), ""):
        with pytest.raises(SealError, match="another request"):
            unseal(PRIVATE, sealed, bound_to=other)


def test_malformed_keys_and_values_are_refused_clearly() -> None:
    with pytest.raises(SealError, match="32 bytes"):
        seal(base64.b64encode(b"short").decode(), SECRETS)
    with pytest.raises(SealError, match="not base64"):
        unseal("!!", seal(PUBLIC, SECRETS))
    with pytest.raises(SealError, match="identifier"):
        seal(PUBLIC, {"a b": "x"})
    with pytest.raises(SealError, match="at most 500"):
        seal(PUBLIC, {"code": "x" * 501})


def test_topic_bytes_of_a_sealed_request_do_not_contain_the_secret() -> None:
    fields = {"request_id": "activation-1", "channel": "letter", "recipient": PATIENT}
    request = NotificationRequestV1.model_validate({
        **fields, "template_id": "activation-code", "parameters": {"family_name": "Weber"},
        **sealed_request_fields(PUBLIC, {"code": SECRETS["code"]}, **fields)})
    on_topic = json.dumps(request.model_dump(mode="json", exclude_none=True)).encode()
    for needle in (SECRETS["code"], SECRETS["code"].replace("-", ""), "KX7P"):
        assert needle.encode() not in on_topic
    assert json.loads(on_topic)["parameters"] == {"family_name": "Weber"}
    received = NotificationRequestV1.model_validate_json(on_topic)  # what notify decodes
    assert received.sealed_parameters is not None
    opened = unseal(PRIVATE, received.sealed_parameters, bound_to=request_binding(
        received.request_id, received.channel, received.recipient, received.destination))
    assert opened == {"code": SECRETS["code"]}
    assert templates.stored({**received.parameters, **opened}, secret=opened.keys()) == {
        "family_name": "Weber", "code": "[sent, not kept]"}


def test_the_producer_helper_needs_the_public_key_and_seals_nothing_without_secrets() -> None:
    fields = {"request_id": "r-1", "channel": "email", "recipient": PATIENT}
    with pytest.raises(SealingNotConfigured, match="DSP_NOTIFY_PUBLIC_KEY is not set"):
        sealed_request_fields(None, {"code": "1234"}, **fields)
    assert sealed_request_fields(None, {}, **fields) == {}
    assert set(sealed_request_fields(PUBLIC, {"code": "1234"}, **fields)) == {"sealed_parameters"}


def test_notify_needs_its_seal_key_and_a_matching_public_key(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DSP_LOG_PSEUDONYM_KEY", LOG_KEY)
    monkeypatch.delenv("DSP_NOTIFY_SEAL_KEY", raising=False)
    monkeypatch.delenv("DSP_NOTIFY_PUBLIC_KEY", raising=False)
    with pytest.raises(SystemExit):
        load(NotifySettings)
    assert "  DSP_NOTIFY_SEAL_KEY: Field required" in capsys.readouterr().err

    monkeypatch.setenv("DSP_NOTIFY_SEAL_KEY", "not-a-key-but-long-enough")
    with pytest.raises(SystemExit):
        load(NotifySettings)
    err = capsys.readouterr().err
    assert "DSP_NOTIFY_SEAL_KEY" in err and "python -m services.kit.sealing" in err
    assert "not-a-key-but-long-enough" not in err

    monkeypatch.setenv("DSP_NOTIFY_SEAL_KEY", PRIVATE)
    monkeypatch.setenv("DSP_NOTIFY_PUBLIC_KEY", new_keypair()[1])
    with pytest.raises(SystemExit):
        load(NotifySettings)
    err = capsys.readouterr().err
    assert "DSP_NOTIFY_PUBLIC_KEY is not the public half of DSP_NOTIFY_SEAL_KEY" in err and PRIVATE not in err

    monkeypatch.setenv("DSP_NOTIFY_PUBLIC_KEY", PUBLIC)
    settings = load(NotifySettings)
    assert settings.seal_key.get_secret_value() == PRIVATE and PRIVATE not in repr(settings)


def test_every_worker_reads_the_public_key_which_is_optional(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    class Producer(ServiceSettings):
        pass

    monkeypatch.setenv("DSP_LOG_PSEUDONYM_KEY", LOG_KEY)
    monkeypatch.delenv("DSP_NOTIFY_PUBLIC_KEY", raising=False)
    assert load(Producer).notify_public_key is None
    monkeypatch.setenv("DSP_NOTIFY_PUBLIC_KEY", "")
    assert load(Producer).notify_public_key is None
    monkeypatch.setenv("DSP_NOTIFY_PUBLIC_KEY", PUBLIC)
    assert load(Producer).notify_public_key == PUBLIC
    monkeypatch.setenv("DSP_NOTIFY_PUBLIC_KEY", "bm90IDMyIGJ5dGVz")
    with pytest.raises(SystemExit):
        load(Producer)
    assert "DSP_NOTIFY_PUBLIC_KEY: Value error, the public key is not an X25519 key" in capsys.readouterr().err


def test_the_fixed_test_keypair_is_a_pair() -> None:
    assert public_key_of(TEST_NOTIFY_SEAL_KEY) == TEST_NOTIFY_PUBLIC_KEY


def test_operators_get_a_new_keypair_as_two_environment_lines() -> None:
    out = subprocess.run([sys.executable, "-m", "services.kit.sealing"], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=60).stdout
    lines = dict(line.split("=", 1) for line in out.splitlines())
    assert set(lines) == {"DSP_NOTIFY_SEAL_KEY", "DSP_NOTIFY_PUBLIC_KEY"}
    assert public_key_of(lines["DSP_NOTIFY_SEAL_KEY"]) == lines["DSP_NOTIFY_PUBLIC_KEY"]


def test_make_run_generates_the_pair_once_and_gives_the_private_key_to_notify_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from infra import mesh

    monkeypatch.delenv("DSP_NOTIFY_SEAL_KEY", raising=False)
    monkeypatch.delenv("DSP_NOTIFY_PUBLIC_KEY", raising=False)
    infra = SimpleNamespace(state_dir=tmp_path / "state", env={},  # the servers' own credentials: not this test's
                            ferret=SimpleNamespace(credentials=lambda name: {}),
                            kafka=SimpleNamespace(client_env=lambda name: {}, password=lambda name: "x" * 24))
    env = mesh.mesh_env(infra)
    assert "DSP_NOTIFY_SEAL_KEY" not in env
    for name in ("records", "activation", "access"):
        assert "DSP_NOTIFY_SEAL_KEY" not in mesh.worker_env(infra, name, env)
    private = mesh.worker_env(infra, "notify", env)["DSP_NOTIFY_SEAL_KEY"]
    assert public_key_of(private) == env["DSP_NOTIFY_PUBLIC_KEY"]
    assert (tmp_path / "state" / "notify-seal.key").stat().st_mode & 0o777 == 0o600
    assert mesh.mesh_env(infra)["DSP_NOTIFY_PUBLIC_KEY"] == env["DSP_NOTIFY_PUBLIC_KEY"]
