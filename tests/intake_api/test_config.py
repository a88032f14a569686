from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from intake_api.config import Settings
from tests.intake_api.conftest import Api, intake_body


def test_defaults_are_vietnamese_and_sensible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOTLINE_CONFIG_FILE", raising=False)
    settings = Settings()
    assert {"police", "dolisa", "border_guard", "coast_guard", "commune", "womens_union"} <= set(
        settings.agency_codes
    )
    assert settings.hotlines == {"trafficking_24_7": "111", "police_emergency": "113"}
    assert len(settings.provinces) == 34 and "Thành phố Hồ Chí Minh" in settings.provinces
    assert settings.service_levels_hours == {"P1": 1.0, "P2": 24.0, "P3": 72.0}
    assert settings.encryption_keys == []  # never a default key


def test_toml_file_and_environment_configure_a_province(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "hotline.toml"
    config.write_text(
        """
[api]
service_levels_hours = { P1 = 0.5, P2 = 12, P3 = 48 }
hotlines = { trafficking_24_7 = "111", police_emergency = "113", province_desk = "0238 3844 111" }

[[api.agencies]]
code = "police"
name = "Công an tỉnh Nghệ An"
hotline = "113"

[[api.agencies]]
code = "dolisa"
name = "Sở Y tế Nghệ An"
""",
        encoding="utf-8",
    )
    monkeypatch.setenv("HOTLINE_CONFIG_FILE", str(config))
    monkeypatch.setenv("HOTLINE_PORT", "9000")
    settings = Settings()
    assert settings.port == 9000
    assert settings.service_levels_hours["P1"] == 0.5
    assert settings.agency_codes == ["police", "dolisa"]
    assert settings.hotlines["province_desk"] == "0238 3844 111"


def test_broken_config_file_is_reported_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[api\nport = ", encoding="utf-8")
    monkeypatch.setenv("HOTLINE_CONFIG_FILE", str(bad))
    with pytest.raises(RuntimeError, match="not valid TOML"):
        Settings()
    monkeypatch.setenv("HOTLINE_CONFIG_FILE", str(tmp_path / "missing.toml"))
    with pytest.raises(RuntimeError, match="does not exist"):
        Settings()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    from tests.intake_api.conftest import make_settings

    return make_settings(tmp_path, service_levels_hours={"P1": 0.25, "P2": 8, "P3": 24})


def test_due_time_follows_configured_service_levels(api: Api) -> None:
    ticket = api.intake(
        intake_body(priority="P1", category="request_rescue", agencies=["police", "dolisa"])
    ).json()
    detail = api.get("operator", f"/api/v1/tickets/{ticket['id']}").json()
    created = datetime.fromisoformat(detail["created_at"])
    assert datetime.fromisoformat(detail["due_at"]) - created == timedelta(minutes=15)
