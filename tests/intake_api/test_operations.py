"""Operations: revoking tokens and disabling accounts (API and `hotline` commands), audited;
denied access attempts audited; unhandled errors logged with their traceback, never with what
the request said, and counted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import structlog
from fastapi.testclient import TestClient
from sqlmodel import Session
from typer.testing import CliRunner

from bot.cli import app as hotline
from intake_api.app import create_app
from intake_api.config import Settings, get_settings
from intake_api.db import make_engine
from tests.intake_api.conftest import Api

runner = CliRunner()


def _works(api: Api, who: str) -> bool:
    return api.get(who, "/api/v1/tickets").status_code != 401


def test_an_admin_disables_an_account_and_its_tokens_stop_working(api: Api) -> None:
    assert _works(api, "police")
    assert api.patch("operator", "/api/v1/users/police", json={"active": False}).status_code == 403
    disabled = api.patch("admin", "/api/v1/users/police", json={"active": False})
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    assert not _works(api, "police")
    signed_in = api.client.post(
        "/api/v1/auth/token",
        data={"username": "police", "password": "correct horse battery staple"},
    )
    assert signed_in.status_code == 401
    assert api.patch("admin", "/api/v1/users/police", json={"active": True}).status_code == 200
    assert _works(api, "police")
    own = api.patch("admin", "/api/v1/users/admin", json={"active": False})
    assert own.status_code == 409 and "your own account" in own.json()["detail"]
    assert (
        api.patch("admin", "/api/v1/users/nobody-here", json={"active": False}).status_code == 404
    )


def test_an_admin_revokes_a_leaked_service_token(api: Api) -> None:
    api.new_ticket()
    assert api.post("bot", "/api/v1/outbound/replies/claim").status_code == 200
    assert (
        api.client.delete("/api/v1/users/bot/tokens", headers=api.headers("police")).status_code
        == 403
    )
    revoked = api.client.delete("/api/v1/users/bot/tokens", headers=api.headers("admin"))
    assert revoked.status_code == 200 and revoked.json() == {"username": "bot", "revoked": 1}
    assert api.post("bot", "/api/v1/outbound/replies/claim").status_code == 401
    actions = {(r["actor"], r["action"], r["detail"]) for r in api.audit()}
    assert ("admin", "tokens_revoked", "bot: 1 token(s)") in actions


def test_account_changes_are_audited(api: Api) -> None:
    api.patch("admin", "/api/v1/users/dolisa", json={"active": False})
    body = {"username": "lan.ops", "password": "a-long-enough-password", "roles": ["operator"]}
    api.post("admin", "/api/v1/users", json=body)
    actions = {(r["actor"], r["action"]) for r in api.audit()}
    assert {("admin", "user_disabled"), ("admin", "user_created")} <= actions


def test_a_denied_ticket_is_a_404_and_leaves_an_audit_record(api: Api) -> None:
    dolisa_only = api.new_ticket(category="request_support", agencies=["dolisa"], priority="P3")
    tid = dolisa_only["id"]
    assert api.get("police", f"/api/v1/tickets/{tid}").status_code == 404
    assert (
        api.patch("police", f"/api/v1/tickets/{tid}", json={"status": "acknowledged"}).status_code
        == 404
    )
    missing = api.get("police", "/api/v1/tickets/0123456789abcdef0123456789abcdef")
    assert missing.status_code == 404
    denied = api.audit(action="denied")
    assert [(r["actor"], r["ticket_id"]) for r in denied] == [("police", tid), ("police", tid)]


@pytest.fixture
def faulty(api: Api, monkeypatch: pytest.MonkeyPatch) -> Api:
    """Reading a ticket fails with an error whose message quotes personal data."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("cannot render +84912345678: em bị nhốt ở Sihanoukville")

    monkeypatch.setattr("intake_api.routes.tickets.detail", broken)
    return api


def test_an_unhandled_error_is_logged_with_its_frames_but_not_its_message(faulty: Api) -> None:
    tid = faulty.new_ticket()["id"]
    with structlog.testing.capture_logs() as logs:
        response = faulty.get("operator", f"/api/v1/tickets/{tid}")
    assert response.status_code == 500
    assert response.json() == {
        "detail": "Something went wrong on our side; nothing was changed. Try again."
    }
    (error,) = [e for e in logs if e["event"] == "unhandled_error"]
    assert error["route"] == "/api/v1/tickets/{ticket_id}" and error["error_type"] == "RuntimeError"
    assert any("test_operations.py" in frame and "broken" in frame for frame in error["traceback"])
    (access,) = [e for e in logs if e["event"] == "request"]
    assert access["status"] == 500 and access["route"] == "/api/v1/tickets/{ticket_id}"
    logged = repr(logs)
    assert "84912345678" not in logged and "nhốt" not in logged and tid not in logged


def test_an_unhandled_error_never_reaches_the_servers_own_error_log(faulty: Api) -> None:
    tid = faulty.new_ticket()["id"]
    # A client that re-raises what escapes the app stands for uvicorn printing it with its
    # message: nothing escapes.
    strict = TestClient(faulty.client.app, raise_server_exceptions=True)
    assert (
        strict.get(f"/api/v1/tickets/{tid}", headers=faulty.headers("operator")).status_code == 500
    )


def test_unhandled_errors_are_counted_by_route(faulty: Api) -> None:
    tid = faulty.new_ticket()["id"]
    for _ in range(3):
        faulty.get("operator", f"/api/v1/tickets/{tid}")
    metrics = faulty.client.get("/metrics")
    assert metrics.status_code == 200
    line = (
        'hotline_unhandled_errors_total{route="/api/v1/tickets/{ticket_id}",error="RuntimeError"} 3'
    )
    assert line in metrics.text.splitlines()


# --- the `hotline` commands ----------------------------------------------------------------


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'hotline.db'}")
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("HOTLINE_ENCRYPTION_KEYS", raising=False)
    monkeypatch.delenv("HOTLINE_BLIND_INDEX_KEY", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _run(*args: str) -> Any:
    return runner.invoke(hotline, list(args))


def _ok(*args: str) -> str:
    result = _run(*args)
    assert result.exit_code == 0, result.output
    return result.output


def test_tokens_revoke_and_users_disable_from_the_command_line(deployment: Path) -> None:
    _ok("db", "upgrade")
    _ok("users", "create", "partner-bot", "--role", "partner", "--random")
    first = _ok("tokens", "issue", "partner-bot").strip().splitlines()[-1]
    second = _ok("tokens", "issue", "partner-bot", "--label", "spare").strip().splitlines()[-1]
    settings = Settings()
    client = TestClient(create_app(settings, make_engine(settings.database_url)))

    def status(token: str) -> int:
        return client.get(
            "/api/v1/tickets/by-reference/TIP-7K3Q9", headers={"Authorization": f"Bearer {token}"}
        ).status_code

    assert status(first) == status(second) == 404  # signed in; no such report
    listed = _ok("tokens", "list", "partner-bot")
    first_id = listed.split()[0]
    assert "valid" in listed and "spare" in listed
    assert "revoked 1 token(s)" in _ok("tokens", "revoke", "partner-bot", "--id", first_id)
    assert status(first) == 401 and status(second) == 404
    assert "disabled" in _ok("users", "disable", "partner-bot")
    assert status(second) == 401
    assert _run("users", "disable", "nobody").exit_code == 1
    with Session(make_engine(settings.database_url)) as session:
        from sqlmodel import select

        from intake_api.models import AuditRecord

        actions = {(r.actor, r.action) for r in session.exec(select(AuditRecord))}
    assert {("cli", "tokens_revoked"), ("cli", "user_disabled"), ("cli", "user_created")} <= actions


def test_an_account_for_an_unknown_agency_is_refused_naming_the_configured_ones(
    deployment: Path,
) -> None:
    _ok("db", "upgrade")
    refused = _run("users", "create", "agent", "--role", "police", "--agency", "fbi", "--random")
    assert refused.exit_code == 1
    assert "unknown agency 'fbi'" in refused.output
    assert "police, dolisa, border_guard" in refused.output
    assert "created" in _ok(
        "users", "create", "guard", "--role", "police", "--agency", "border_guard", "--random"
    )


def test_the_command_line_cannot_disable_the_last_active_admin(deployment: Path) -> None:
    _ok("db", "upgrade")
    _ok("users", "create", "root", "--role", "admin", "--random")
    refused = _run("users", "disable", "root")
    assert refused.exit_code == 1 and "last active admin" in refused.output
    _ok("users", "create", "deputy", "--role", "admin", "--random")
    assert "disabled" in _ok("users", "disable", "root")
