"""Silence files the tip: a report or support request the person stops answering becomes a
ticket with what was said, its unanswered questions marked, and later answers join it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from bot.config import BotSettings
from bot.contract import InboundMessage
from bot.models import Conversation
from bot.runtime import BotRuntime
from intake_api.db import utcnow
from intake_api.models import Ticket, TicketMessage
from intake_api.state import AppState
from tests.bot.conftest import SwitchableTransport, bot_for

SESSION = "silence-test-session-000001"


@pytest.fixture
async def runtime(api_state: AppState, transport: SwitchableTransport) -> AsyncIterator[BotRuntime]:
    rt = bot_for(api_state, transport, BotSettings(silence_filing_minutes=10))
    yield rt
    await rt.service.drain()


async def _say(runtime: BotRuntime, text: str) -> None:
    await runtime.service.converse(InboundMessage("webchat", SESSION, uuid.uuid4().hex, text=text))


def _silence_passes(api_state: AppState, minutes: float) -> None:
    with Session(api_state.engine) as session:
        for conversation in session.exec(select(Conversation)).all():
            if conversation.file_after is not None:
                conversation.file_after -= timedelta(minutes=minutes)
                session.add(conversation)
        session.commit()


def _tickets(api_state: AppState) -> list[Ticket]:
    with Session(api_state.engine) as session:
        return list(session.exec(select(Ticket)).all())


async def test_a_support_request_left_unfinished_is_filed_after_the_silence(
    runtime: BotRuntime, api_state: AppState
) -> None:
    await _say(runtime, "em mới được giải cứu về, giờ cần hỗ trợ học nghề")
    await _say(runtime, "em ở Nghệ An")
    assert _tickets(api_state) == []
    with Session(api_state.engine) as session:
        (conversation,) = session.exec(select(Conversation)).all()
    assert conversation.file_after is not None
    assert conversation.file_after > utcnow() + timedelta(minutes=9)

    # Nine minutes of silence are not yet enough.
    _silence_passes(api_state, 9)
    assert await runtime.service.file_silent() == 0
    _silence_passes(api_state, 2)
    assert await runtime.service.file_silent() == 1
    assert await runtime.service.file_silent() == 0  # filed once

    (ticket,) = _tickets(api_state)
    assert ticket.category == "request_support" and ticket.province == "Nghệ An"
    assert "filed after the reporter went silent" in ticket.triage_reasons
    assert any(r.startswith("unanswered:") and "contact" in r for r in ticket.triage_reasons)

    # A later answer joins that ticket instead of starting another.
    await _say(runtime, "em muốn học may, buổi tối thì em rảnh")
    assert len(_tickets(api_state)) == 1
    with Session(api_state.engine) as session:
        texts = session.exec(
            select(TicketMessage.text).where(TicketMessage.ticket_id == ticket.id)
        ).all()
    assert any("học may" in t for t in texts)


async def test_a_tip_whose_questions_are_not_all_answered_is_filed_after_the_silence(
    runtime: BotRuntime, api_state: AppState
) -> None:
    await _say(runtime, "nhà bên cạnh có người hay dẫn các cô gái trẻ sang Trung Quốc lấy chồng")
    await _say(runtime, "ở Lào Cai")
    _silence_passes(api_state, 11)
    assert await runtime.service.file_silent() == 1

    (ticket,) = _tickets(api_state)
    assert ticket.category == "report_trafficking"
    assert ticket.consent_to_contact is False  # never asked, so never assumed
    reasons = " ".join(ticket.triage_reasons)
    assert "went silent" in reasons and "consent" in reasons


async def test_a_conversation_that_speaks_again_is_not_filed_by_its_old_silence(
    runtime: BotRuntime, api_state: AppState
) -> None:
    await _say(runtime, "em mới được giải cứu về, giờ cần hỗ trợ học nghề")
    _silence_passes(api_state, 11)
    await _say(runtime, "em ở Nghệ An")  # a new message moves the deadline on
    assert await runtime.service.file_silent() == 0
    assert _tickets(api_state) == []
