"""`python -m infra.dotenv`: a Docker host's .env, written once, mode 600, every pair's halves matching.

(That Compose renders compose.yaml with it, every `${VAR:?...}` given, is in test_docker_host.py.)"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from infra import dotenv
from infra.kafka_acls import PRINCIPALS
from services.kit import sealing, servicetokens


def read(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_it_writes_every_secret_once_with_mode_600(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / ".env"
    assert dotenv.main(["--output", str(target)]) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    written = read(target)
    assert {f"DSP_KAFKA_PASSWORD_{p.upper()}" for p in PRINCIPALS} <= set(written)
    assert {"DSP_KAFKA_ADMIN_PASSWORD", "DSP_MONGO_ROOT_PASSWORD", "DSP_MONGO_PASSWORD_ACCESS", "DSP_LOG_PSEUDONYM_KEY",
            "DSP_ACTIVATION_CODE_KEY", "DSP_ACCESS_AUDIT_KEY", "DSP_ACCESS_AUDIT_SIGNING_KEY", "DSP_NOTIFY_SEAL_KEY",
            "DSP_NOTIFY_PUBLIC_KEY", "DSP_SERVICE_PUBLIC_KEYS", "DSP_GATEWAY_PRO_IDP_KEY"} <= set(written)
    secret = {k: v for k, v in written.items() if k not in ("DSP_NOTIFY_PUBLIC_KEY", "DSP_SERVICE_PUBLIC_KEYS")}
    assert len(set(secret.values())) == len(secret), "two secrets share a value"
    for name, value in written.items():
        assert len(value) >= 16, name  # the settings refuse shorter secrets
        assert not set(value) & set(" \t\"'$#`\\"), name  # nothing Compose would interpolate, quote or cut
    terminal = capsys.readouterr()
    assert terminal.out == ""
    assert all(value not in terminal.err for value in written.values())  # names only on the terminal


def test_each_keypair_holds_together(tmp_path: Path) -> None:
    target = tmp_path / ".env"
    assert dotenv.main(["--output", str(target)]) == 0
    written = read(target)
    sealed = sealing.seal(written["DSP_NOTIFY_PUBLIC_KEY"], {"code": "X"}, bound_to="r-1")
    assert sealing.unseal(written["DSP_NOTIFY_SEAL_KEY"], sealed, bound_to="r-1") == {"code": "X"}
    publics = dict(item.split("=", 1) for item in written["DSP_SERVICE_PUBLIC_KEYS"].split(","))
    for name in dotenv.SIGNING_SERVICES:
        private = servicetokens.private_key(written[f"DSP_SERVICE_KEY_{name.upper()}"])
        assert servicetokens.public_b64(private) == publics[name], name
    signer = servicetokens.Signer("gateway", written["DSP_SERVICE_KEY_GATEWAY"])
    checker = servicetokens.Verifier("access", servicetokens.parse_public_keys(written["DSP_SERVICE_PUBLIC_KEYS"]))
    assert checker.caller(f"Bearer {signer.token('access')}", allowed=["gateway"]) == "gateway"
    servicetokens.private_key(written["DSP_ACCESS_AUDIT_SIGNING_KEY"])  # an Ed25519 seed, as access reads it


def test_an_existing_file_is_kept_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / ".env"
    target.write_text("DSP_LOG_PSEUDONYM_KEY=mine-and-already-in-the-volumes\n")
    assert dotenv.main(["--output", str(target)]) == 2
    assert target.read_text() == "DSP_LOG_PSEUDONYM_KEY=mine-and-already-in-the-volumes\n"
    assert "not overwritten" in capsys.readouterr().err
    assert dotenv.main(["--output", str(target), "--force"]) == 0
    replaced = read(target)
    assert replaced["DSP_LOG_PSEUDONYM_KEY"] != "mine-and-already-in-the-volumes"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [".env"]  # no temporary file left


def test_stdout_prints_the_same_lines_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dotenv, "ROOT", tmp_path)
    assert dotenv.main(["--stdout"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("# ")
    names = [line.split("=", 1)[0] for line in printed.splitlines() if not line.startswith("#")]
    assert names == list(dotenv.values())
    assert list(tmp_path.iterdir()) == []
