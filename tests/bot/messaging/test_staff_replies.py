"""Staff replies take the bot's own send path: on Telegram, through the real library against
the fake Bot API, they are recorded with the conversation, so `/xoa` deletes them from the
person's phone; a transient failure is retried like any answer of the bot's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlmodel import Session, col, select

from bot.contract import InboundMessage
from bot.models import OutgoingMessage
from bot.runtime import BotRuntime
from intake_api.db import utcnow
from intake_api.models import Reply, Ticket
from intake_api.state import AppState
from tests.bot.channels.fake_telegram import FakeTelegram
from tests.bot.channels.test_telegram import CHAT_ID, channel_for
from tests.bot.conftest import SwitchableTransport, bot_for

STAFF_TEXT = "Công an đã nhận tin, giữ điện thoại im lặng."


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    server = FakeTelegram().start()
    yield server
    server.stop()


@pytest.fixture
async def runtime(
    api_state: AppState, transport: SwitchableTransport, fake: FakeTelegram
) -> AsyncIterator[BotRuntime]:
    telegram = channel_for(fake)
    await telegram.start()
    rt = bot_for(api_state, transport, telegram=telegram)
    yield rt
    await rt.service.drain()
    await telegram.stop()


def _message(text: str, n: int) -> InboundMessage:
    return InboundMessage("telegram", str(CHAT_ID), f"{CHAT_ID}:{n}", text=text)


def _queue_staff_reply(api_state: AppState) -> None:
    with Session(api_state.engine) as session:
        (ticket,) = session.exec(select(Ticket)).all()
        session.add(
            Reply(
                ticket_id=ticket.id,
                author="lan",
                text=STAFF_TEXT,
                channel="telegram",
                state="queued",
            )
        )
        session.commit()


def _staff_message_ids(fake: FakeTelegram) -> list[str]:
    """The Bot API message ids the fake gave the staff reply (sendMessage answers count up
    from 1001 in call order)."""
    ids = []
    for number, call in enumerate(fake.calls_of("sendMessage"), start=1001):
        if STAFF_TEXT in call.params["text"]:
            ids.append(str(number))
    return ids


async def test_a_staff_reply_on_telegram_is_deleted_by_xoa(
    runtime: BotRuntime, api_state: AppState, fake: FakeTelegram
) -> None:
    await runtime.service.converse(_message("cuu em bi nhot o lao", 1))
    _queue_staff_reply(api_state)
    assert await runtime.replies.run_once() == 1
    staff_ids = _staff_message_ids(fake)
    assert len(staff_ids) == 1

    await runtime.service.converse(_message("/xoa", 2))

    deleted = [c.params["message_id"] for c in fake.calls_of("deleteMessage")]
    assert staff_ids[0] in deleted
    with Session(api_state.engine) as session:
        assert session.exec(select(Reply)).one().state == "delivered"


async def test_a_staff_reply_is_retried_after_a_transient_telegram_failure(
    runtime: BotRuntime, api_state: AppState, fake: FakeTelegram
) -> None:
    await runtime.service.converse(_message("cuu em bi nhot o lao", 1))
    _queue_staff_reply(api_state)
    fake.fail("sendMessage", 502, "Bad Gateway")

    assert await runtime.replies.run_once() == 0  # not sent yet: waiting for its next try
    with Session(api_state.engine) as session:
        row = session.exec(
            select(OutgoingMessage).where(col(OutgoingMessage.staff_reply_id).is_not(None))
        ).one()
        assert row.state == "pending" and row.attempts == 1
        row.next_attempt_at = utcnow()  # the back-off has passed
        session.add(row)
        session.commit()
    assert await runtime.service.send_pending() == 1

    attempts = [c for c in fake.calls_of("sendMessage") if STAFF_TEXT in c.params["text"]]
    assert len(attempts) == 2  # refused once by the 502, then sent
    with Session(api_state.engine) as session:
        assert session.exec(select(Reply)).one().state == "delivered"
