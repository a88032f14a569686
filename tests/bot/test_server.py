"""The composed app: one platform that cannot be reached is one channel down, never the
service."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry import trace
from sqlmodel import Session, select
from starlette.routing import Match

from bot.config import BotSettings
from bot.server import bot_app, combined_app
from intake_api.crypto import PersonalDataCipher
from intake_api.models import Ticket
from tests.bot.nlu.fake_rasa import closed_port_url
from tests.conftest import TEST_BLIND_KEY, TEST_KEYS
from tests.intake_api.conftest import make_settings


def test_an_unreachable_telegram_degrades_its_channel_and_everything_else_serves(
    engine, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    bot_settings = BotSettings(
        telegram_token="123456:TEST-token_abc",
        telegram_api_base=closed_port_url() + "/bot",
        telegram_webhook_secret="s3cret",
    )
    app = combined_app(make_settings(tmp_path), bot_settings, engine)
    with TestClient(app) as client:  # runs the lifespan: channels start here
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.json()["status"] == "degraded"
        assert health.json()["channels"] == {"telegram": "degraded", "webchat": "ok"}

        session_id = "degraded-test-" + uuid.uuid4().hex
        answer = client.post(
            "/webchat/messages",
            json={"session_id": session_id, "message_id": "m1", "text": "cứu em, bị nhốt ở lào"},
        )
        assert answer.status_code == 200
        assert any("113" in m["text"] for m in answer.json()["messages"])
        assert client.get("/docs").status_code == 200
    with Session(engine) as session:
        assert session.exec(select(Ticket)).one().priority == "P1"


class RecordingTracerProvider(trace.TracerProvider):
    """A global provider as the environment would configure one (`FASTAPI_OTEL_AUTO_CONFIGURE`,
    an SDK's set-up): with it, FastAPI 0.165's own telemetry asks for a tracer and exports."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def get_tracer(self, instrumenting_module_name: str, *args: Any, **kwargs: Any) -> trace.Tracer:
        self.asked.append(instrumenting_module_name)
        return trace.NoOpTracer()


def test_neither_app_exports_requests_to_an_opentelemetry_collector(
    engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """A webhook's URL and an exception's message must not leave through FastAPI's own
    telemetry, whatever the environment configures (docs/architecture.md, "Principles")."""
    settings = make_settings(tmp_path)
    cipher = PersonalDataCipher(TEST_KEYS, TEST_BLIND_KEY)
    remote = BotSettings(intake_transport="http", intake_token="t")  # a bot worker's app
    apps = [
        combined_app(settings, BotSettings(), engine),
        bot_app(remote, engine, cipher, settings),
    ]
    provider = RecordingTracerProvider()
    # Patched, not set: the real global can be set only once per process.
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    for app in apps:
        with TestClient(app) as client:
            answer = client.post(
                "/webchat/messages",
                json={
                    "session_id": "otel-" + uuid.uuid4().hex,
                    "message_id": "m1",
                    "text": "chào",
                },
            )
            assert answer.status_code == 200
            assert client.get("/healthz").status_code == 200
    assert provider.asked == []


def test_the_channels_routes_are_matched_before_the_apis(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Every message comes in through a channel's route: it is found first, without walking
    the API's routes (FastAPI's matching is linear), and the API's still answer behind it."""
    app = combined_app(make_settings(tmp_path), BotSettings(), engine)

    def first_match(path: str, method: str) -> int:
        scope = {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}
        for index, route in enumerate(app.router.routes):
            if route.matches(scope)[0] == Match.FULL:
                return index
        raise AssertionError(f"no route for {path}")

    webchat = first_match("/webchat/messages", "POST")
    assert webchat < first_match("/api/v1/tickets", "GET")
    assert webchat < first_match("/docs", "GET")
    with TestClient(app) as client:
        assert client.get("/api/v1/tickets").status_code == 401
        assert client.get("/").status_code in (200, 307)
