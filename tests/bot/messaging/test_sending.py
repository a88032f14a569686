"""Sending a conversation's messages: several to one person in one call where the channel has
one (`Channel.send_all`), all or none, still in order and still retried."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from bot.contract import ChannelBase, DeliveryError, InboundMessage, OutboundText, TextLimit
from bot.models import OutgoingMessage
from bot.runtime import BotRuntime
from intake_api.state import AppState
from tests.bot.conftest import SwitchableTransport, bot_for


class BatchingChannel(ChannelBase):
    name = "telegram"
    limit = TextLimit(4096, "utf16")

    def __init__(self) -> None:
        self.together: list[list[str]] = []
        self.alone: list[str] = []
        self.has_batch_call = True
        self.refuse_next_batches = 0

    async def send(self, message: OutboundText) -> str | None:
        self.alone.append(message.text)
        return f"alone-{len(self.alone)}"

    async def send_all(self, messages: Sequence[OutboundText]) -> list[str | None] | None:
        if not self.has_batch_call:
            return None
        if self.refuse_next_batches:
            self.refuse_next_batches -= 1
            raise DeliveryError("502 from the platform")
        self.together.append([m.text for m in messages])
        return [f"together-{len(self.together)}-{i}" for i in range(len(messages))]


@pytest.fixture
def channel() -> BatchingChannel:
    return BatchingChannel()


@pytest.fixture
async def runtime(
    api_state: AppState, transport: SwitchableTransport, channel: BatchingChannel
) -> AsyncIterator[BotRuntime]:
    rt = bot_for(api_state, transport, telegram=channel)
    yield rt
    await rt.service.drain()


def _queue(runtime: BotRuntime, conversation: str, *texts: str) -> None:
    for text in texts:
        runtime.service.queue(OutboundText("telegram", f"chat-{conversation}", text), conversation)


def _rows(api_state: AppState) -> list[OutgoingMessage]:
    with Session(api_state.engine) as session:
        return list(session.exec(select(OutgoingMessage).order_by(col(OutgoingMessage.id))).all())


def _make_due(api_state: AppState) -> None:
    with Session(api_state.engine) as session:
        for row in session.exec(select(OutgoingMessage)).all():
            row.next_attempt_at = row.next_attempt_at - timedelta(hours=1)
            session.add(row)
        session.commit()


async def test_a_conversations_messages_go_in_one_call_and_each_keeps_its_platform_id(
    runtime: BotRuntime, api_state: AppState, channel: BatchingChannel
) -> None:
    _queue(runtime, "c1", "one", "two")
    _queue(runtime, "c2", "other")
    assert await runtime.service.send_pending() == 3
    assert channel.together == [["one", "two"]]
    assert channel.alone == ["other"]  # a single message takes the single call
    rows = _rows(api_state)
    assert [(r.text, r.state, r.platform_message_id, r.attempts) for r in rows] == [
        ("one", "sent", "together-1-0", 1),
        ("two", "sent", "together-1-1", 1),
        ("other", "sent", "alone-1", 1),
    ]
    assert await runtime.service.send_pending() == 0  # sent is never sent again


async def test_a_refused_batch_is_retried_whole_and_holds_back_the_conversations_later_messages(
    runtime: BotRuntime, api_state: AppState, channel: BatchingChannel
) -> None:
    _queue(runtime, "c1", "one", "two")
    _queue(runtime, "c2", "other")
    _queue(runtime, "c1", "three")
    channel.refuse_next_batches = 1
    assert await runtime.service.send_pending() == 1
    # Another person's message is not held up; c1's third never overtakes its first two.
    assert channel.alone == ["other"] and channel.together == []
    states = {r.text: (r.state, r.attempts, r.last_error) for r in _rows(api_state)}
    assert states["one"][0] == states["two"][0] == states["three"][0] == "pending"
    assert "502" in str(states["one"][2]) and "earlier message" in str(states["three"][2])

    _make_due(api_state)
    assert await runtime.service.send_pending() == 3
    assert channel.together == [["one", "two", "three"]]  # each exactly once, in order
    assert all(r.state == "sent" for r in _rows(api_state))


async def test_a_channel_without_a_batch_call_sends_one_by_one_in_order(
    runtime: BotRuntime, api_state: AppState, channel: BatchingChannel
) -> None:
    channel.has_batch_call = False
    _queue(runtime, "c1", "one", "two", "three")
    assert await runtime.service.send_pending() == 3
    assert channel.alone == ["one", "two", "three"] and channel.together == []
    assert [r.platform_message_id for r in _rows(api_state)] == ["alone-1", "alone-2", "alone-3"]


class SlowFirstChannel(ChannelBase):
    """A platform that takes its time over the first message it is given."""

    name = "telegram"
    limit = TextLimit(4096, "utf16")

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.first_on_its_way = asyncio.Event()
        self.let_first_arrive = asyncio.Event()

    async def send(self, message: OutboundText) -> str | None:
        if not self.first_on_its_way.is_set():
            self.first_on_its_way.set()
            await self.let_first_arrive.wait()
        self.sent.append(message.text)
        return str(len(self.sent))


async def test_an_answer_ready_while_the_previous_is_on_its_way_follows_it_without_a_round(
    api_state: AppState, transport: SwitchableTransport
) -> None:
    """A person writing in bursts: the second message's answer is saved while the first's is
    still being sent. It waits for it (never overtakes it) and goes right after, not at the next
    background round seconds later."""
    channel = SlowFirstChannel()
    runtime = bot_for(api_state, transport, telegram=channel)

    def message(text: str) -> InboundMessage:
        return InboundMessage("telegram", "chat-burst", uuid.uuid4().hex, text=text)

    assert await runtime.service.accept(message("xin chào"))
    await asyncio.wait_for(channel.first_on_its_way.wait(), 10)
    assert await runtime.service.accept(message("cho hỏi số đường dây nóng"))
    await asyncio.sleep(0.3)  # the second turn is saved and waits behind the first reply
    assert channel.sent == []
    channel.let_first_arrive.set()
    await asyncio.wait_for(runtime.service.drain(), 10)
    assert len(channel.sent) >= 2 and "111" in channel.sent[-1]  # in order, both arrived
    assert all(r.state == "sent" for r in _rows(api_state))


class GatedChannel(ChannelBase):
    """Holds every send until as many are on their way as were expected: they then come back
    at the same moment, as replies to many people do under load."""

    name = "telegram"
    limit = TextLimit(4096, "utf16")

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.on_their_way = 0
        self.all_on_their_way = asyncio.Event()

    async def send(self, message: OutboundText) -> str | None:
        self.on_their_way += 1
        if self.on_their_way == self.expected:
            self.all_on_their_way.set()
        await self.all_on_their_way.wait()
        return f"id-{message.recipient_id}"


async def test_replies_to_many_people_sent_at_once_are_recorded_in_a_few_transactions(
    api_state: AppState, transport: SwitchableTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group commit: sends that come back together are recorded together, each with its
    platform id, instead of one transaction each."""
    people = 24
    channel = GatedChannel(people)
    runtime = bot_for(api_state, transport, telegram=channel)
    records: list[int] = []
    record = runtime.service._record

    def counted(now, sent, failed):  # type: ignore[no-untyped-def]
        records.append(len(sent) + len(failed))
        record(now, sent, failed)

    monkeypatch.setattr(runtime.service, "_record", counted)
    for n in range(people):
        _queue(runtime, f"c{n}", f"reply {n}")
    sent = await asyncio.wait_for(
        asyncio.gather(*(runtime.service.send_pending(f"c{n}") for n in range(people))), 10
    )
    assert sent == [1] * people
    assert sum(records) == people
    assert len(records) <= 4, records
    rows = _rows(api_state)
    assert [r.state for r in rows] == ["sent"] * people
    assert {r.platform_message_id for r in rows} == {f"id-chat-c{n}" for n in range(people)}
