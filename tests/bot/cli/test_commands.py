"""The `hotline` commands a new deployment uses, against a throwaway SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bot.cli import app
from intake_api.app import create_app
from intake_api.cli import ensure_admin
from intake_api.config import Settings, get_settings
from intake_api.db import make_engine

runner = CliRunner()


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'hotline.db'}")
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("HOTLINE_ENCRYPTION_KEYS", raising=False)
    monkeypatch.delenv("HOTLINE_BLIND_INDEX_KEY", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_new_deployment_creates_users_and_issues_a_service_token(deployment: Path) -> None:
    _ok(["db", "upgrade"])
    assert (deployment / "secrets.json").stat().st_mode & 0o777 == 0o600
    _ok(["users", "create", "lan", "--role", "operator", "--password", "mat-khau-du-dai-1"])
    _ok(["users", "create", "bot", "--role", "service", "--random"])
    token = _ok(["tokens", "issue", "bot", "--days", "30"]).strip().splitlines()[-1]
    _ok(["users", "set-password", "lan", "--password", "mat-khau-moi-du-dai"])

    settings = Settings()
    client = TestClient(create_app(settings, make_engine(settings.database_url)))
    login = client.post(
        "/api/v1/auth/token", data={"username": "lan", "password": "mat-khau-moi-du-dai"}
    )
    assert login.status_code == 200
    staff = {"Authorization": f"Bearer {login.json()['access_token']}"}
    body = {
        "channel": "webchat",
        "transcript": [{"text": "con gái tôi đi làm ở Bình Dương rồi mất liên lạc 2 tháng nay"}],
        "triage": {"priority": "P2", "category": "report_missing", "agencies": ["police"]},
        "province": "Thành phố Hồ Chí Minh",
    }
    made = client.post(
        "/api/v1/intake",
        json=body,
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "cli-test-1"},
    )
    assert made.status_code == 201, made.text
    listed = client.get("/api/v1/tickets", headers=staff).json()
    assert [t["reference_code"] for t in listed["items"]] == [made.json()["reference_code"]]


def test_refusals_are_clear_and_exit_non_zero(deployment: Path) -> None:
    _ok(["db", "upgrade"])
    short = runner.invoke(
        app, ["users", "create", "x1", "--role", "operator", "--password", "short"]
    )
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    bad_role = runner.invoke(app, ["users", "create", "x2", "--role", "boss", "--random"])
    assert bad_role.exit_code == 1 and "unknown role" in bad_role.output
    missing = runner.invoke(app, ["tokens", "issue", "nobody"])
    assert missing.exit_code == 1 and "no user named" in missing.output


def test_first_start_creates_admin_once_with_a_random_password(deployment: Path) -> None:
    _ok(["db", "upgrade"])
    settings = Settings()
    engine = make_engine(settings.database_url)
    first = ensure_admin(engine)
    assert first is not None and len(first) >= 16
    assert ensure_admin(engine) is None
    client = TestClient(create_app(settings, engine))
    login = client.post("/api/v1/auth/token", data={"username": "admin", "password": first})
    assert login.status_code == 200


def test_db_upgrade_creates_the_api_tables_and_then_the_bots(deployment: Path) -> None:
    _ok(["db", "upgrade"])
    engine = make_engine(Settings().database_url)
    with engine.connect() as conn:
        api = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        bot = conn.exec_driver_sql("SELECT version_num FROM bot_alembic_version").scalar()
        tables = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")}
    assert api == "0004" and bot == "bot_0001"
    assert {"tickets", "bot_conversations", "bot_inbound", "bot_outbox"} <= tables


def test_a_database_from_before_the_split_upgrades_and_keeps_the_bots_rows(
    deployment: Path,
) -> None:
    """Databases made when the API's history also created the bot's tables (revision 0002)."""
    from bot.migrate import BOT_MIGRATIONS_DIR
    from intake_api.migrate import upgrade as upgrade_api

    engine = make_engine(Settings().database_url)
    upgrade_api(engine)
    upgrade_api(engine, "head", BOT_MIGRATIONS_DIR)
    with engine.begin() as conn:
        # As the old history left it: the bot's tables, but no version row of their own.
        conn.exec_driver_sql("DROP TABLE bot_alembic_version")
        conn.exec_driver_sql(
            "INSERT INTO bot_rate_counters (sender_hash, window_start, count) VALUES ('h', 1, 2)"
        )
    _ok(["db", "upgrade"])
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count FROM bot_rate_counters").scalar() == 2
        assert conn.exec_driver_sql("SELECT version_num FROM bot_alembic_version").scalar()


def test_serve_refuses_to_start_when_triage_routes_to_an_unconfigured_agency(
    deployment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = deployment / "hotline.toml"
    config.write_text('[[api.agencies]]\ncode = "police"\nname = "Công an"\n', encoding="utf-8")
    monkeypatch.setenv("HOTLINE_CONFIG_FILE", str(config))
    get_settings.cache_clear()

    result = runner.invoke(app, ["serve", "--port", "1"])

    assert result.exit_code == 1
    assert "'dolisa'" in result.output and "triage_keywords.yml" in result.output
