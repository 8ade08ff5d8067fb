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
