"""The composed app: one platform that cannot be reached is one channel down, never the
service."""

from __future__ import annotations

import uuid
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.config import BotSettings
from bot.server import combined_app
from intake_api.models import Ticket
from tests.bot.nlu.fake_rasa import closed_port_url
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
