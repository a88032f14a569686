"""A hotline on the test database: the voice channel's routes in an app, the real intake
client and outbox over the in-process transport to the API's own functions, and Twilio's side
of a call played by `FakeCall` with signatures from the twilio library's RequestValidator."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from twilio.request_validator import RequestValidator

from bot.channels.voice.channel import VoiceChannel
from bot.config import BotSettings
from bot.contract import ChannelContext, InboundMessage
from bot.intake.client import IntakeClient
from bot.intake.outbox import Outbox
from intake_api.models import CallRecord, Ticket, TicketEvent
from tests.bot.channels.fake_twilio import FakeCall

TOKEN = "fedcba9876543210fedcba9876543210"
ACCOUNT_SID = "AC" + "1" * 32
PUBLIC_BASE = "https://hotline.example.org"
ON_CALL = "+84901111111"
FALLBACK = "+84902222222"
OPERATOR = "+84903333333"
OUR_NUMBER = "+842873001234"
CALLER = "+84912345678"
HOTLINES = {"trafficking_24_7": "111", "police_emergency": "113"}


def voice_settings(**overrides: Any) -> BotSettings:
    values: dict[str, Any] = {
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": TOKEN,
        "twilio_from_number": OUR_NUMBER,
        "public_base_url": PUBLIC_BASE,
        "voice_on_call": ON_CALL,
        "voice_fallback_number": FALLBACK,
        "voice_operator_number": OPERATOR,
        "voice_hours": "00:00-24:00",
    }
    values.update(overrides)
    return BotSettings(**values)


async def _no_messages(message: InboundMessage) -> bool:
    raise AssertionError("the voice channel hands no messages to the conversation")


@dataclass
class Hotline:
    """One app instance serving the hotline (a process, as far as the call is concerned)."""

    channel: VoiceChannel
    client: TestClient
    intake: IntakeClient
    engine: Engine

    def call(self, **script: Any) -> FakeCall:
        return FakeCall(
            post=self.client.post,
            auth_token=TOKEN,
            public_base=PUBLIC_BASE,
            keys=deque(script.pop("keys", [])),
            legs=deque(script.pop("legs", [])),
            recordings=deque(script.pop("recordings", [])),
            **script,
        )


def make_hotline(
    engine: Engine,
    transport: Any,
    clock: Callable[[], datetime] | None = None,
    **overrides: Any,
) -> Hotline:
    outbox = Outbox(engine, transport, 1.0)
    intake = IntakeClient(engine, transport, outbox)
    context = ChannelContext(
        engine=engine, hotlines=HOTLINES, address_key=lambda value: value, intake=intake
    )
    channel = VoiceChannel(voice_settings(**overrides), context, clock=clock)
    app = FastAPI()
    app.include_router(channel.router(_no_messages))
    return Hotline(channel, TestClient(app), intake, engine)


@pytest.fixture
def hotline(engine: Engine, transport: Any) -> Iterator[Hotline]:
    line = make_hotline(engine, transport)
    yield line
    line.client.close()


def signed(url: str, form: dict[str, str], token: str = TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, form)}


def twiml(response: Any) -> ET.Element:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    return root


def tickets(engine: Engine) -> list[Ticket]:
    with Session(engine) as session:
        return list(session.exec(select(Ticket).order_by(col(Ticket.created_at))))


def events(
    engine: Engine, ticket_id: str, prefix: str = ""
) -> list[tuple[str, str | None, str | None]]:
    with Session(engine) as session:
        rows = session.exec(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id)
            .order_by(col(TicketEvent.id))
        )
        return [(e.kind, e.from_value, e.to_value) for e in rows if e.kind.startswith(prefix)]


def call_records(engine: Engine, ticket_id: str) -> list[CallRecord]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(CallRecord)
                .where(CallRecord.ticket_id == ticket_id)
                .order_by(col(CallRecord.id))
            )
        )


@pytest.fixture
def empty_audio(tmp_path: Path) -> Path:
    folder = tmp_path / "no-audio"
    folder.mkdir()
    return folder
