from typing import ClassVar

import pytest

from services.kit.settings import ServiceSettings, load


class DemoSettings(ServiceSettings):
    service: ClassVar[str] = "demo"


def test_missing_secret_fails_fast_with_the_variable_name(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("DSP_LOG_PSEUDONYM_KEY", raising=False)
    with pytest.raises(SystemExit) as info:
        load(DemoSettings)
    assert info.value.code == 2
    assert "DSP_LOG_PSEUDONYM_KEY: Field required" in capsys.readouterr().err


@pytest.mark.parametrize("placeholder", ["changeme", "CHANGE-ME-please-now", "<set me>", "${KEY}", "short"])
def test_placeholder_secret_is_refused_without_echoing_it(placeholder: str, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DSP_LOG_PSEUDONYM_KEY", placeholder)
    with pytest.raises(SystemExit):
        load(DemoSettings)
    err = capsys.readouterr().err
    assert "placeholder" in err and placeholder not in err


def test_real_settings_name_the_service_database_and_group(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSP_LOG_PSEUDONYM_KEY", "0f3a9c1e7b2d4f6a8c0e1b3d5f7a9c2e")
    monkeypatch.setenv("DSP_MONGO_DB_PREFIX", "ci")
    monkeypatch.setenv("DSP_KAFKA_GROUP_PREFIX", "run1-")
    settings = load(DemoSettings)
    assert settings.mongo_db == "ci_demo"
    assert settings.group_id == "run1-demo"
    assert "0f3a9c1e" not in repr(settings)


def test_mongo_user_and_password_go_together_and_the_password_is_a_secret(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DSP_LOG_PSEUDONYM_KEY", "0f3a9c1e7b2d4f6a8c0e1b3d5f7a9c2e")
    for name in ("DSP_MONGO_USERNAME", "DSP_MONGO_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    assert load(DemoSettings).mongo_username is None  # unset: connect as the URI says
    monkeypatch.setenv("DSP_MONGO_USERNAME", "demo")
    with pytest.raises(SystemExit):
        load(DemoSettings)
    assert "DSP_MONGO_USERNAME and DSP_MONGO_PASSWORD go together" in capsys.readouterr().err
    monkeypatch.setenv("DSP_MONGO_PASSWORD", "short")
    with pytest.raises(SystemExit):
        load(DemoSettings)
    assert "DSP_MONGO_PASSWORD: " in capsys.readouterr().err
    monkeypatch.setenv("DSP_MONGO_PASSWORD", "a9c2e0f3a9c1e7b2d4f6a8c0e1b3d5f7")
    settings = load(DemoSettings)
    assert (settings.mongo_username, settings.mongo_auth_source) == ("demo", "admin")
    assert "a9c2e0f3" not in repr(settings)
