"""Whole conversations through each channel adapter, asserting the tickets in the API.

Each platform is a local fake driven by its real client library (python-telegram-bot, the
twilio SDK, our Zalo client); the bot runs with the real NLU, dialogue, outbox and the API's
own code in-process (a switchable transport plays the API being stopped).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import Session, col, func, select
from twilio.request_validator import RequestValidator

from bot.channels.zalo.channel import signature_for
from bot.config import BotSettings
from bot.models import InboundRecord
from bot.runtime import BotRuntime
from bot.server import mount
from intake_api.models import Reply, Ticket, TicketAgency, TicketMessage
from intake_api.state import AppState
from tests.bot.channels.fake_telegram import TOKEN, FakeTelegram, text_update
from tests.bot.channels.fake_twilio import FakeTwilio
from tests.bot.channels.fake_zalo import FakeZalo
from tests.bot.conftest import SwitchableTransport, bot_for

TG_SECRET = "scenario-secret_1"
TWILIO_SID = "AC" + "1" * 32
TWILIO_TOKEN = "twilio-auth-token"
OA_SECRET = "oa-secret-key"
PUBLIC = "http://testserver"


@dataclass
class Harness:
    runtime: BotRuntime
    client: httpx.AsyncClient
    transport: SwitchableTransport
    api_state: AppState
    telegram: FakeTelegram
    zalo: FakeZalo
    twilio: FakeTwilio

    def tickets(self) -> list[Ticket]:
        with Session(self.api_state.engine) as session:
            return list(session.exec(select(Ticket).order_by(col(Ticket.created_at))).all())

    def agencies(self, ticket: Ticket) -> list[str]:
        with Session(self.api_state.engine) as session:
            rows = session.exec(
                select(TicketAgency.agency).where(TicketAgency.ticket_id == ticket.id)
            ).all()
            return sorted(rows)

    async def settle(self) -> None:
        await self.runtime.service.drain()

    async def telegram_says(self, update_id: int, text: str, chat_id: int = 777001) -> int:
        update = text_update(update_id, text, chat_id=chat_id, message_id=update_id)
        response = await self.client.post(
            "/telegram/webhook",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET},
        )
        await self.settle()
        return response.status_code

    async def zalo_says(self, msg_id: str, text: str, user: str = "zalo-user-1") -> int:
        timestamp = str(int(time.time() * 1000))
        body = json.dumps(
            {
                "app_id": self.zalo.app_id,
                "user_id_by_app": "app-user",
                "event_name": "user_send_text",
                "sender": {"id": user},
                "recipient": {"id": "oa-1"},
                "message": {"text": text, "msg_id": msg_id},
                "timestamp": timestamp,
            },
            ensure_ascii=False,
        ).encode()
        mac = signature_for(self.zalo.app_id, OA_SECRET, body, timestamp)
        response = await self.client.post(
            "/zalo/webhook",
            content=body,
            headers={"X-ZEvent-Signature": f"mac={mac}", "Content-Type": "application/json"},
        )
        await self.settle()
        return response.status_code

    async def sms_says(self, sid: str, text: str, sender: str = "+84987000111") -> int:
        params = {"MessageSid": sid, "From": sender, "To": "+15005550006", "Body": text}
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(
            f"{PUBLIC}/sms/webhook", params
        )
        response = await self.client.post(
            "/sms/webhook", data=params, headers={"X-Twilio-Signature": signature}
        )
        await self.settle()
        return response.status_code

    async def webchat_says(self, session_id: str, n: int, text: str) -> list[dict[str, Any]]:
        response = await self.client.post(
            "/webchat/messages",
            json={"session_id": session_id, "message_id": f"m{n}", "text": text},
        )
        assert response.status_code == 200, response.text
        return response.json()["messages"]


@pytest.fixture
def fakes() -> Iterator[tuple[FakeTelegram, FakeZalo, FakeTwilio]]:
    telegram = FakeTelegram().start()
    zalo = FakeZalo().start()
    twilio = FakeTwilio(account_sid=TWILIO_SID).start()
    yield telegram, zalo, twilio
    telegram.stop()
    zalo.stop()
    twilio.stop()


@pytest.fixture
async def harness(
    api_state: AppState,
    transport: SwitchableTransport,
    fakes: tuple[FakeTelegram, FakeZalo, FakeTwilio],
    tmp_path: Path,
) -> AsyncIterator[Harness]:
    telegram, zalo, twilio = fakes
    settings = BotSettings(
        telegram_token=TOKEN,
        telegram_webhook_secret=TG_SECRET,
        telegram_api_base=telegram.base_url,
        zalo_app_id=zalo.app_id,
        zalo_app_secret=zalo.app_secret,
        zalo_oa_secret_key=OA_SECRET,
        zalo_access_token="access-0",
        zalo_refresh_token="refresh-0",
        zalo_openapi_base=zalo.url,
        zalo_oauth_base=zalo.url,
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=TWILIO_TOKEN,
        twilio_from_number="+15005550006",
        twilio_api_base=twilio.url,
        public_base_url=PUBLIC,
        outbox_max_backoff_seconds=0.0,
    )
    runtime = bot_for(api_state, transport, settings)
    app = FastAPI()
    mount(app, runtime)
    await runtime.start()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as client:
        yield Harness(runtime, client, transport, api_state, telegram, zalo, twilio)
    await runtime.service.drain()
    await runtime.stop()


def _sent_texts(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [
        c.params["text"]
        for c in fake.calls_of("sendMessage")
        if str(c.params.get("chat_id")) == str(chat_id)
    ]


async def test_rescue_message_creates_p1_police_ticket_before_second_message(
    harness: Harness,
) -> None:
    assert await harness.telegram_says(1, "cuu em voi, em bi nhot o cam, ho thu ho chieu") == 200
    tickets = harness.tickets()
    assert len(tickets) == 1
    rescue = tickets[0]
    assert rescue.priority == "P1" and rescue.category == "request_rescue"
    assert "police" in harness.agencies(rescue)
    assert rescue.country == "Campuchia"
    first_reply = _sent_texts(harness.telegram, 777001)[0]
    assert "113" in first_reply and "111" in first_reply
    assert rescue.reference_code in first_reply
    # The next answers update the same ticket, not new ones.
    await harness.telegram_says(2, "gần casino ở Bavet, có 5 người nữa")
    await harness.telegram_says(3, "0912 345 678")
    assert [t.id for t in harness.tickets()] == [rescue.id]
    with Session(harness.api_state.engine) as session:
        texts = session.exec(
            select(TicketMessage.text).where(TicketMessage.ticket_id == rescue.id)
        ).all()
    assert any("Bavet" in t for t in texts)


async def test_accented_rescue_over_sms_is_p1_with_the_code_in_the_first_reply(
    harness: Harness,
) -> None:
    assert (
        await harness.sms_says("SM001", "Cứu em với, họ đánh em và giữ hộ chiếu ở Myanmar") == 200
    )
    (ticket,) = harness.tickets()
    assert ticket.priority == "P1" and "police" in harness.agencies(ticket)
    bodies = [r.form["Body"] for r in harness.twilio.requests]
    assert "113" in bodies[0] and ticket.reference_code in bodies[0]
    assert {r.form["To"] for r in harness.twilio.requests} == {"+84987000111"}


async def test_tip_gathered_over_five_messages_produces_one_ticket(harness: Harness) -> None:
    messages = [
        "Nhà bên cạnh ở Nghệ An có người hay dẫn các cô gái trẻ sang Trung Quốc lấy chồng",
        "tuần trước",
        "con gái nhà hàng xóm, 16 tuổi",
        "một người đàn ông tên Tư, hay nhắn qua zalo",
        "ẩn danh",
    ]
    for n, text in enumerate(messages, start=1):
        assert await harness.zalo_says(f"msg-{n}", text) == 200
        if n < len(messages):
            assert harness.tickets() == [], f"filed early, after message {n}"
    (ticket,) = harness.tickets()
    assert ticket.category in ("report_trafficking", "request_rescue")
    assert ticket.anonymous and ticket.reporter_phone is None
    assert ticket.reporter_channel_user_id is None  # the address stays with the bot
    assert ticket.province == "Nghệ An" and ticket.country == "Trung Quốc"
    last = json.loads(harness.zalo.sends()[-1].raw)
    assert ticket.reference_code in last["message"]["text"]


async def test_unaccented_tip_on_zalo_is_understood_like_an_accented_one(
    harness: Harness,
) -> None:
    messages = [
        "nha ben canh o nghe an co nguoi hay dan cac co gai tre sang trung quoc lay chong",
        "tuan truoc",
        "con gai nha hang xom, 16 tuoi",
        "mot nguoi dan ong ten Tu, hay nhan qua zalo",
        "an danh",
    ]
    for n, text in enumerate(messages, start=1):
        await harness.zalo_says(f"plain-{n}", text, user="zalo-user-2")
    (ticket,) = harness.tickets()
    assert ticket.province == "Nghệ An" and ticket.country == "Trung Quốc"
    assert ticket.anonymous


async def test_same_webhook_delivered_three_times_is_one_message(harness: Harness) -> None:
    for _ in range(3):
        assert await harness.sms_says("SM-DUP", "cuu toi voi, bi nhot o Lao") == 200
    with Session(harness.api_state.engine) as session:
        assert session.exec(select(func.count()).select_from(InboundRecord)).one() == 1
    assert len(harness.tickets()) == 1
    first_replies = [r for r in harness.twilio.requests if "113" in r.form["Body"]]
    assert len(first_replies) == 1
    for _ in range(3):
        assert await harness.telegram_says(50, "xin chao", chat_id=777002) == 200
    assert len(_sent_texts(harness.telegram, 777002)) == 1


async def test_with_the_api_stopped_ten_tips_are_accepted_and_arrive_exactly_once(
    harness: Harness,
) -> None:
    harness.transport.down = True
    codes = []
    for n in range(10):
        replies = await harness.webchat_says(
            f"webchat-session-{n:04d}-abcdef", 1, "cứu em, em bị nhốt ở Campuchia"
        )
        texts = " ".join(m["text"] for m in replies)
        assert "113" in texts
        codes.append(next(w.strip(".,") for w in texts.split() if w.startswith("TIP-")))
    assert harness.tickets() == []
    harness.transport.down = False
    await harness.runtime.tick()
    await harness.runtime.tick()
    assert sorted(t.reference_code for t in harness.tickets()) == sorted(codes)
    assert len(harness.tickets()) == 10


async def test_staff_reply_reaches_the_reporter_once_on_the_original_channel(
    harness: Harness,
) -> None:
    await harness.telegram_says(1, "cuu em voi, em bi nhot o cam", chat_id=777003)
    (ticket,) = harness.tickets()
    with Session(harness.api_state.engine) as session:
        session.add(
            Reply(
                ticket_id=ticket.id,
                author="police",
                text="Chúng tôi đang liên hệ công an Campuchia, bạn giữ an toàn.",
                channel="telegram",
                state="queued",
            )
        )
        session.commit()
    await harness.runtime.tick()
    await harness.runtime.tick()
    sent = [t for t in _sent_texts(harness.telegram, 777003) if "đang liên hệ" in t]
    assert len(sent) == 1 and ticket.reference_code in sent[0]
    with Session(harness.api_state.engine) as session:
        (reply,) = session.exec(select(Reply)).all()
    assert reply.state == "delivered"


async def test_erase_command_deletes_the_bots_messages_on_telegram(harness: Harness) -> None:
    await harness.telegram_says(1, "xin chào", chat_id=777004)
    await harness.telegram_says(2, "/xoa", chat_id=777004)
    assert harness.telegram.calls_of("deleteMessage")


async def test_local_run_polls_telegram_and_answers_without_a_webhook(harness: Harness) -> None:
    import asyncio

    harness.telegram.queue_update(text_update(900, "cuu toi, bi giu o Campuchia", chat_id=777005))
    stop = asyncio.Event()
    worker = asyncio.create_task(harness.runtime.run_background(stop))
    for _ in range(100):
        await asyncio.sleep(0.05)
        await harness.settle()
        if _sent_texts(harness.telegram, 777005):
            break
    stop.set()
    await worker
    assert harness.telegram.calls_of("deleteWebhook")
    (ticket,) = harness.tickets()
    assert ticket.priority == "P1" and ticket.channel == "telegram"
    assert ticket.reference_code in _sent_texts(harness.telegram, 777005)[0]


async def test_a_location_shared_during_a_rescue_reaches_the_ticket(harness: Harness) -> None:
    await harness.telegram_says(1, "cuu em, em bi nhot", chat_id=777006)
    update = text_update(2, "x", chat_id=777006, message_id=2)
    del update["message"]["text"]
    update["message"]["location"] = {"latitude": 10.6093, "longitude": 103.5296}
    response = await harness.client.post(
        "/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    )
    assert response.status_code == 200
    await harness.settle()
    (ticket,) = harness.tickets()
    assert ticket.location == {"lat": 10.6093, "lon": 103.5296}
