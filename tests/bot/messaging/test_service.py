"""The bot's message flow around the conversation engine: flood limits, crash recovery,
erasure and staff replies sent once."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import anyio.to_thread
import pytest
import sqlalchemy
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from bot.config import BotSettings
from bot.contract import ChannelBase, InboundMessage, OutboundText, TextLimit
from bot.intake.transport import Unavailable
from bot.messaging import conversations
from bot.messaging.conversations import ConversationBusy
from bot.models import (
    Conversation,
    InboundRecord,
    OutboxItem,
    OutgoingMessage,
    WebchatMessage,
)
from bot.runtime import BotRuntime
from intake_api.db import DATABASE_THREADS, database_threads
from intake_api.models import Reply, Ticket, TicketMessage
from intake_api.state import AppState
from tests.bot.conftest import SwitchableTransport, bot_for
from tests.bot.nlu.fake_rasa import FakeRasa, rasa_answer
from tests.bot.nlu.fake_rasa import Reply as RasaReply

SESSION = "service-test-session-000001"


class RecordingChannel(ChannelBase):
    name = "telegram"
    limit = TextLimit(4096, "utf16")

    def __init__(self) -> None:
        self.sent: list[OutboundText] = []

    async def send(self, message: OutboundText) -> str | None:
        self.sent.append(message)
        return str(len(self.sent))

    async def delete(self, recipient_id: str, message_ids: list[str]) -> int:
        return 0


@pytest.fixture
async def runtime(api_state: AppState, transport: SwitchableTransport) -> AsyncIterator[BotRuntime]:
    rt = bot_for(
        api_state,
        transport,
        # A long window: the flood tests' messages must not fall on both sides of its edge.
        BotSettings(rate_limit_messages=3, rate_limit_window_seconds=600),
        telegram=RecordingChannel(),
    )
    yield rt
    await rt.service.drain()


def _msg(text: str, sender: str = SESSION, channel: str = "webchat") -> InboundMessage:
    return InboundMessage(channel=channel, sender_id=sender, message_id=uuid.uuid4().hex, text=text)


def _shown(api_state: AppState, session_id: str = SESSION) -> list[str]:
    with Session(api_state.engine) as session:
        rows = session.exec(
            select(WebchatMessage)
            .where(
                WebchatMessage.session_id
                == api_state.cipher.blind_index("webchat-session", session_id)
            )
            .where(WebchatMessage.clear == False)  # noqa: E712 (the page's erase markers)
            .order_by(WebchatMessage.id)
        ).all()
        return [r.text for r in rows]


def _window_passes(api_state: AppState) -> None:
    """The flooding sender's wait runs out (the clock is the database's rows)."""
    with Session(api_state.engine) as session:
        for record in session.exec(select(InboundRecord)).all():
            if record.not_before is not None:
                record.not_before = record.not_before - timedelta(hours=1)
                session.add(record)
        session.commit()


async def test_a_flooding_sender_is_told_to_wait_and_every_message_is_answered_later(
    runtime: BotRuntime, api_state: AppState
) -> None:
    for n in range(3):
        assert await runtime.service.converse(_msg(f"xin chào {n}")) is True
    before = len(_shown(api_state))
    # Over the limit: stored and acknowledged, never refused; the person is told to wait.
    assert await runtime.service.converse(_msg("cho hỏi số đường dây nóng")) is True
    assert await runtime.service.converse(_msg("alo")) is True
    shown = _shown(api_state)
    assert len(shown) == before + 1 and "giây" in shown[-1]  # one notice, not one per message
    with Session(api_state.engine) as session:
        states = session.exec(select(InboundRecord.state).order_by(InboundRecord.id)).all()
    assert states == ["processed"] * 3 + ["received"] * 2
    # Another sender is not affected.
    assert await runtime.service.converse(_msg("xin chào", sender="other-session-0000001"))

    _window_passes(api_state)
    assert await runtime.service.recover() == 1
    with Session(api_state.engine) as session:
        states = session.exec(select(InboundRecord.state).order_by(InboundRecord.id)).all()
    assert "received" not in states
    answers = _shown(api_state)[before + 1 :]
    assert any("111" in text for text in answers)  # the hotline question got its answer


async def test_a_danger_message_is_answered_at_once_even_while_its_sender_is_throttled(
    runtime: BotRuntime, api_state: AppState
) -> None:
    for n in range(4):
        await runtime.service.converse(_msg(f"xin chào {n}"))
    await runtime.service.converse(_msg("cuu em voi, em bi nhot o cam, ho danh em"))
    with Session(api_state.engine) as session:
        (ticket,) = session.exec(select(Ticket)).all()
        states = session.exec(select(InboundRecord.state)).all()
    assert ticket.priority == "P1"
    assert "received" not in states  # the deferred message before it was answered too
    assert any("113" in text and ticket.reference_code in text for text in _shown(api_state))


async def test_a_message_stored_but_never_answered_is_answered_by_recovery(
    runtime: BotRuntime, api_state: AppState
) -> None:
    store = runtime.service.store
    # A process stored it (and acknowledged the platform), then died before answering.
    assert store.store_inbound(_msg("cứu em, em bị nhốt ở Campuchia")) is not None
    assert await runtime.service.recover(timedelta(0)) == 1
    with Session(api_state.engine) as session:
        (ticket,) = session.exec(select(Ticket)).all()
        assert ticket.priority == "P1"
        replies = session.exec(select(WebchatMessage)).all()
    assert replies and "113" in replies[0].text
    assert await runtime.service.recover(timedelta(0)) == 0


async def test_a_message_leased_at_its_store_by_a_process_that_died_is_answered_after_the_lease(
    runtime: BotRuntime, api_state: AppState
) -> None:
    store = runtime.service.store
    stored = store.store_inbound(_msg("cứu em, em bị nhốt ở Campuchia"), lease=True)
    assert stored is not None and stored.start is not None
    assert [r.text for r in stored.start.pending] == ["cứu em, em bị nhốt ở Campuchia"]
    # While its holder lives, neither a round nor another worker's turn takes it.
    with pytest.raises(ConversationBusy):
        store.begin_turn(stored.conversation_id, wait_seconds=0)
    await runtime.service.recover(timedelta(0))
    assert _shown(api_state) == []
    # The holder dies between its store and its turn: nothing renews the lease, it runs out.
    store.leases.drop(stored.conversation_id)
    with Session(api_state.engine) as session:
        conversation = session.get(Conversation, stored.conversation_id)
        assert conversation is not None and conversation.locked_until is not None
        conversation.locked_until = conversation.locked_until - timedelta(minutes=1)
        session.add(conversation)
        session.commit()
    await runtime.service.recover(timedelta(0))
    with Session(api_state.engine) as session:
        (ticket,) = session.exec(select(Ticket)).all()
    assert ticket.priority == "P1"
    assert any("113" in text and ticket.reference_code in text for text in _shown(api_state))


async def test_messages_of_one_person_racing_each_other_are_all_answered_once(
    runtime: BotRuntime, api_state: AppState
) -> None:
    # One stores and leases the conversation; the others are stored while it is held and
    # wait for it (and their replies for its replies), never answered twice nor left behind
    # for a background round.
    await asyncio.gather(*(runtime.service.converse(_msg("xin chào")) for _ in range(3)))
    with Session(api_state.engine) as session:
        states = session.exec(select(InboundRecord.state)).all()
        (conversation,) = session.exec(select(Conversation)).all()
        waiting = session.exec(select(OutgoingMessage).where(OutgoingMessage.state != "sent")).all()
    assert states == ["processed"] * 3
    assert conversation.locked_until is None and waiting == []
    shown = _shown(api_state)
    assert len(shown) == 3 and len(set(shown)) == 1  # one greeting for each


async def test_messages_waiting_for_a_held_conversation_leave_the_threads_to_everyone_else(
    runtime: BotRuntime, api_state: AppState
) -> None:
    # A process that died mid-turn still holds this person's conversation (its lease has a
    # few seconds left); two more of the person's messages arrive and wait for it. Meanwhile
    # another person writes: storing and answering that message needs a database thread, and
    # here there are only two, as many as the messages waiting.
    telegram = runtime.channels["telegram"]
    assert isinstance(telegram, RecordingChannel)
    held, other = "1000001", "1000002"
    store = runtime.service.store
    stored = store.store_inbound(_msg("xin chào", held, "telegram"), lease=True)
    assert stored is not None
    store.leases.drop(stored.conversation_id)  # its holder is gone
    limiter = database_threads()
    threads = limiter.total_tokens
    limiter.total_tokens = 2
    try:
        for n in range(2):
            await runtime.service.accept(_msg(f"alo {n}", held, "telegram"))
        await asyncio.sleep(0.3)  # both waiting for the held conversation

        await asyncio.wait_for(runtime.service.accept(_msg("xin chào", other, "telegram")), 5)
        for _ in range(250):  # answered in the background, the waiting ones still waiting
            if telegram.sent:
                break
            await asyncio.sleep(0.02)
        assert [m.recipient_id for m in telegram.sent] == [other]
    finally:
        limiter.total_tokens = threads
        # The dead holder's lease runs out: the waiting messages are answered.
        with Session(api_state.engine) as session:
            conversation = session.get(Conversation, stored.conversation_id)
            assert conversation is not None
            conversation.locked_until = None
            session.add(conversation)
            session.commit()
        await runtime.service.drain()
    assert [m.recipient_id for m in telegram.sent].count(held) >= 2


async def test_a_reply_whose_record_fails_is_not_an_error_for_the_person_and_goes_later(
    runtime: BotRuntime, api_state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database goes away between the turn and the record of its sends (PostgreSQL
    restarting): the web chat's request still succeeds, and the stored reply is settled by
    the next background round."""
    record = runtime.service._record
    failures = [OperationalError("UPDATE bot_outgoing", {}, Exception("server closed"))]

    def failing_once(now, sent, failed):  # type: ignore[no-untyped-def]
        if failures:
            raise failures.pop()
        record(now, sent, failed)

    monkeypatch.setattr(runtime.service, "_record", failing_once)
    assert await runtime.service.accept(_msg("xin chào")) is True
    shown = _shown(api_state)
    assert len(shown) == 1  # the page has its answer
    with Session(api_state.engine) as session:
        (row,) = session.exec(select(OutgoingMessage)).all()
    assert row.state == "pending"
    await runtime.service.drain()
    with Session(api_state.engine) as session:  # its send lease runs out (8 s)
        session.execute(text("UPDATE bot_outgoing SET leased_until = NULL"))
        session.commit()
    await runtime.tick()
    with Session(api_state.engine) as session:
        (row,) = session.exec(select(OutgoingMessage)).all()
    assert row.state == "sent"


@pytest.fixture
def commits(api_state: AppState) -> Iterator[list[int]]:
    """A counter of the transactions committed on the test's engine from now on (its
    listener removed after: the PostgreSQL engine serves the whole test session)."""
    counted = [0]

    def count(_connection: Any) -> None:
        counted[0] += 1

    sqlalchemy.event.listen(api_state.engine, "commit", count)
    yield counted
    sqlalchemy.event.remove(api_state.engine, "commit", count)


async def test_on_postgresql_a_web_chat_message_is_stored_with_its_answer_in_one_transaction(
    runtime: BotRuntime, api_state: AppState, commits: list[int]
) -> None:
    """The person waits in the request for the answer: one transaction stores the message,
    its turn's state and its replies (docs/architecture.md, step 2). On SQLite, whose one
    write lock the turn would hold, two."""
    assert await runtime.service.accept(_msg("xin chào")) is True
    await runtime.service.drain()
    with Session(api_state.engine) as session:
        (record,) = session.exec(select(InboundRecord)).all()
        (row,) = session.exec(select(OutgoingMessage)).all()
        (conversation,) = session.exec(select(Conversation)).all()
    postgres = api_state.engine.dialect.name == "postgresql"
    # The message with its turn (SQLite: the message, then its turn), the page's answer, the
    # record of that send.
    assert commits[0] == (3 if postgres else 4)
    assert record.state == "processed" and row.state == "sent"
    assert conversation.locked_until is None and len(_shown(api_state)) == 1


async def test_two_workers_racing_on_one_new_web_chat_session_answer_each_message_once(
    api_state: AppState, transport: SwitchableTransport
) -> None:
    """Two workers on one database take the first messages of one new person at the same
    time, each turn inside its store's transaction on PostgreSQL: the second waits for the
    first's conversation to be committed, then works its own message in it. Each message is
    answered once, in the order they were worked."""
    workers = [bot_for(api_state, transport) for _ in range(2)]
    texts = ["xin chào", "cho hỏi số đường dây nóng"]
    for round_ in range(3):
        session_id = f"race-{round_}-{uuid.uuid4().hex[:12]}"
        await asyncio.gather(
            *(
                workers[i % 2].service.converse(_msg(text, sender=session_id))
                for i, text in enumerate(texts)
            )
        )
        # A reply written behind the other worker's, still on its way, goes at the next round.
        for worker in workers:
            await worker.tick()
        with Session(api_state.engine) as session:
            digest = workers[0].service.store.sender_hash("webchat", session_id)
            (conversation,) = session.exec(
                select(Conversation).where(Conversation.sender_hash == digest)
            ).all()
            states = session.exec(
                select(InboundRecord.state).where(InboundRecord.conversation_id == conversation.id)
            ).all()
            rows = session.exec(
                select(OutgoingMessage)
                .where(OutgoingMessage.conversation_id == conversation.id)
                .order_by(col(OutgoingMessage.id))
            ).all()
        assert states == ["processed", "processed"] and conversation.locked_until is None
        assert [r.state for r in rows] == ["sent"] * len(rows) and len(rows) >= 2
        assert _shown(api_state, session_id) == [r.text for r in rows]  # each once, in order
    for worker in workers:
        await worker.service.drain()


async def test_a_platform_webhook_is_acknowledged_once_its_message_is_stored(
    runtime: BotRuntime, api_state: AppState, commits: list[int]
) -> None:
    """A platform waits for nothing but the store: the turn follows the acknowledgement."""
    assert await runtime.service.accept(_msg("xin chào", channel="telegram")) is True
    with Session(api_state.engine) as session:
        (record,) = session.exec(select(InboundRecord)).all()
    assert commits[0] == 1 and record.state == "received"
    await runtime.service.drain()
    with Session(api_state.engine) as session:
        (record,) = session.exec(select(InboundRecord)).all()
        (row,) = session.exec(select(OutgoingMessage)).all()
    assert record.state == "processed" and row.state == "sent"
    assert len(runtime.service.channels["telegram"].sent) == 1  # type: ignore[attr-defined]


async def test_a_turn_that_fails_leaves_its_message_stored_alone_and_answered_later(
    runtime: BotRuntime, api_state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dialogue raises inside the store's transaction (and again on the usual path):
    the message is still stored and acknowledged, nothing of the failed turn is left, and it
    is answered, once, when the fault is gone."""
    respond = runtime.service.dialogue.respond
    broken = [True]
    calls: list[int] = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if broken[0]:
            raise RuntimeError("dialogue bug")
        return respond(*args, **kwargs)

    monkeypatch.setattr(runtime.service.dialogue, "respond", failing)
    assert await runtime.service.accept(_msg("cứu em, em bị nhốt ở Campuchia"))
    await runtime.service.drain()
    with Session(api_state.engine) as session:
        (record,) = session.exec(select(InboundRecord)).all()
        (conversation,) = session.exec(select(Conversation)).all()
        assert session.exec(select(OutgoingMessage)).all() == []
        assert session.exec(select(OutboxItem)).all() == []
    assert record.state == "received" and conversation.state == {}
    # In the store's transaction, then on the usual path (SQLite: the usual path only).
    assert len(calls) == (2 if api_state.engine.dialect.name == "postgresql" else 1)

    broken[0] = False
    assert await runtime.service.recover(timedelta(0)) == 1
    await runtime.service.drain()
    with Session(api_state.engine) as session:
        (record,) = session.exec(select(InboundRecord)).all()
        (ticket,) = session.exec(select(Ticket)).all()
        rows = session.exec(select(OutgoingMessage)).all()
    shown = _shown(api_state)
    assert record.state == "processed" and ticket.priority == "P1"
    assert "113" in shown[0] and ticket.reference_code in shown[0]
    assert shown == [r.text for r in rows]  # each reply once


async def test_a_turn_whose_write_fails_in_the_store_is_stored_once_and_answered_at_once(
    runtime: BotRuntime, api_state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database refuses the turn's writes inside the store's transaction: that whole
    transaction is rolled back (no second conversation, no message stored twice) and the
    message is stored alone, then answered on the usual path."""
    save_turn = runtime.service.store.save_turn
    refused: list[int] = []

    def refusing_in_store(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("session") is not None:
            refused.append(1)
            raise OperationalError("INSERT bot_outgoing", {}, Exception("disk full"))
        return save_turn(*args, **kwargs)

    monkeypatch.setattr(runtime.service.store, "save_turn", refusing_in_store)
    rescue = _msg("cứu em, em bị nhốt ở Campuchia")
    assert await runtime.service.converse(rescue)
    with Session(api_state.engine) as session:
        records = session.exec(select(InboundRecord)).all()
        conversations = session.exec(select(Conversation)).all()
        (ticket,) = session.exec(select(Ticket)).all()
        rows = session.exec(select(OutgoingMessage)).all()
    shown = _shown(api_state)
    assert refused == ([1] if api_state.engine.dialect.name == "postgresql" else [])
    assert len(records) == 1 and records[0].state == "processed" and len(conversations) == 1
    assert ticket.reference_code in shown[0]
    assert shown == [r.text for r in rows]  # each reply once


async def test_a_rescue_is_stored_answered_and_filed_while_api_requests_hold_every_api_thread(
    runtime: BotRuntime, api_state: AppState
) -> None:
    """The bot's database work has threads of its own (intake_api.db.run_db): console reports
    or a flood of API requests taking all of anyio's threads never hold a message's store, its
    turn, its reply or its ticket back."""
    telegram = runtime.channels["telegram"]
    assert isinstance(telegram, RecordingChannel)
    limiter = anyio.to_thread.current_default_thread_limiter()
    busy = threading.Event()
    holders = [
        asyncio.ensure_future(anyio.to_thread.run_sync(busy.wait))
        for _ in range(int(limiter.total_tokens))
    ]
    try:
        await asyncio.sleep(0.05)
        assert limiter.available_tokens == 0
        stored = runtime.service.accept(
            _msg("cứu em, em bị nhốt ở Campuchia", "1000004", "telegram")
        )
        assert await asyncio.wait_for(stored, 5) is True
        for _ in range(250):
            if telegram.sent:
                break
            await asyncio.sleep(0.02)
        assert telegram.sent and "113" in telegram.sent[0].text
        for _ in range(250):  # and filed
            with Session(api_state.engine) as session:
                tickets = session.exec(select(Ticket)).all()
            if tickets:
                break
            await asyncio.sleep(0.02)
        assert [t.priority for t in tickets] == ["P1"]
        assert tickets[0].reference_code in telegram.sent[0].text
    finally:
        busy.set()
        await asyncio.gather(*holders)
    await runtime.service.drain()


async def test_turns_waiting_on_a_slow_rasa_never_hold_the_store_of_another_message(
    api_state: AppState, transport: SwitchableTransport
) -> None:
    """With a Rasa server, a turn waits on the network: turns then run on anyio's threads, not
    on the few the bot's database work shares. More people than those threads waiting for a
    slow Rasa leave the next message's store (and so the platform's acknowledgement) free."""
    rasa = FakeRasa().start()
    telegram = RecordingChannel()
    try:
        settings = BotSettings(
            nlu_backend="rasa",
            rasa_url=rasa.url,
            rasa_timeout_seconds=20,
            rasa_retries=0,
            rasa_fallback_to_embedded=False,
        )
        runtime = bot_for(api_state, transport, settings, telegram=telegram)
        slow = DATABASE_THREADS + 2
        rasa.script(
            *[RasaReply(body=rasa_answer("xin chào", "greet", 0.9), delay_seconds=3)] * slow
        )
        for n in range(slow + 1):
            started = time.monotonic()
            assert await runtime.service.accept(_msg("xin chào", f"20000{n}", "telegram"))
            # Stored (the platform acknowledged) while the turns before it wait on Rasa.
            assert time.monotonic() - started < 1.5
        await runtime.service.drain()
        assert len(telegram.sent) == slow + 1
    finally:
        rasa.stop()


def test_two_first_messages_of_one_new_sender_racing_make_one_conversation(
    runtime: BotRuntime, api_state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both looked for the sender's conversation before either made it (no flood limit to
    serialise them): the second's insert hits the unique sender hash and it joins the first's
    conversation instead of failing the webhook."""
    store = runtime.service.store
    both_looked = threading.Barrier(2, timeout=10)
    insert = conversations.insert_rows

    def insert_once_both_looked(session: Any, objects: Any) -> None:
        if objects and isinstance(objects[0], Conversation):
            both_looked.wait()
        insert(session, objects)

    monkeypatch.setattr(conversations, "insert_rows", insert_once_both_looked)
    sender = "new-sender-session-0000001"
    with ThreadPoolExecutor(2) as pool:
        stored = list(
            pool.map(
                lambda text: store.store_inbound(_msg(text, sender=sender), lease=True),
                ["cứu em với", "em bị nhốt ở Campuchia"],
            )
        )
    assert all(s is not None for s in stored)
    assert len({s.conversation_id for s in stored if s is not None}) == 1
    # One of them leased the conversation it made; the other found it held.
    assert sum(1 for s in stored if s is not None and s.start is not None) == 1
    with Session(api_state.engine) as session:
        assert len(session.exec(select(Conversation)).all()) == 1
        assert len(session.exec(select(InboundRecord)).all()) == 2


async def test_erase_forgets_what_was_said(runtime: BotRuntime, api_state: AppState) -> None:
    await runtime.service.converse(_msg("con gái tôi đi Trung Quốc mất liên lạc"))
    await runtime.service.converse(_msg("xoa"))
    with Session(api_state.engine) as session:
        texts = session.exec(select(InboundRecord.text)).all()
        (conversation,) = session.exec(select(Conversation)).all()
        shown = session.exec(
            select(WebchatMessage.text).where(WebchatMessage.clear == False)  # noqa: E712
        ).all()
    assert texts == [None, None]
    assert conversation.state == {}
    # Only the confirmation is left for the page to show.
    assert len(shown) == 1 and "Trung Quốc" not in shown[0]


async def test_staff_reply_is_sent_once_even_when_offered_again(
    runtime: BotRuntime, api_state: AppState, transport: SwitchableTransport
) -> None:
    await runtime.service.converse(_msg("cuu em bi nhot o lao", sender="42", channel="telegram"))
    with Session(api_state.engine) as session:
        (ticket,) = session.exec(select(Ticket)).all()
        session.add(
            Reply(
                ticket_id=ticket.id,
                author="police",
                text="Đã nhận, giữ an toàn.",
                channel="telegram",
                state="queued",
            )
        )
        session.commit()
    channel: RecordingChannel = runtime.channels["telegram"]  # type: ignore[assignment]
    before = len(channel.sent)
    # The report back fails (API down just then): the reply was sent but is offered again.
    real_report = transport.inner.report_delivery

    def api_down(*args: object, **kwargs: object) -> None:
        raise Unavailable("connection refused")

    transport.inner.report_delivery = api_down  # type: ignore[method-assign]
    assert await runtime.replies.run_once() == 1
    transport.inner.report_delivery = real_report  # type: ignore[method-assign]
    with Session(api_state.engine) as session:
        reply = session.exec(select(Reply)).one()
        reply.lease_until = None  # the lease ran out
        reply.state = "queued"
        session.add(reply)
        session.commit()
    assert await runtime.replies.run_once() == 1
    staff_texts = [m.text for m in channel.sent[before:]]
    assert len(staff_texts) == 1 and "Đã nhận, giữ an toàn." in staff_texts[0]
    with Session(api_state.engine) as session:
        assert session.exec(select(Reply)).one().state == "delivered"


async def test_a_long_platform_id_acknowledged_is_never_refused_by_the_api_later(
    runtime: BotRuntime, api_state: AppState
) -> None:
    long_id = "z" * 250  # within what the door takes, over the API's 128-character keys
    first = InboundMessage("webchat", SESSION, long_id, text="cứu em với, em bị nhốt ở Lào")
    second = InboundMessage("webchat", SESSION, long_id + "2", text="họ lấy hộ chiếu của em")
    await runtime.service.converse(first)
    await runtime.service.converse(second)
    await runtime.tick()
    with Session(api_state.engine) as session:
        assert session.exec(select(OutboxItem).where(OutboxItem.state != "delivered")).all() == []
        (ticket,) = session.exec(select(Ticket)).all()
        texts = session.exec(
            select(TicketMessage.text).where(TicketMessage.ticket_id == ticket.id)
        ).all()
        keys = session.exec(select(InboundRecord.message_key)).all()
    assert any("hộ chiếu" in t for t in texts)
    # The platform's ids are kept only as keyed hashes.
    assert all(long_id not in k for k in keys)


async def test_answers_of_messages_before_an_erase_in_the_same_batch_are_never_sent(
    runtime: BotRuntime, api_state: AppState
) -> None:
    store = runtime.service.store
    # Both stored before the bot worked either (a burst; the process was busy).
    assert store.store_inbound(_msg("con gái tôi đi Trung Quốc mất liên lạc")) is not None
    assert store.store_inbound(_msg("xoa")) is not None
    assert await runtime.service.recover(timedelta(0)) == 1
    shown = _shown(api_state)
    assert len(shown) == 1 and "Trung Quốc" not in shown[0]


async def test_a_follow_up_by_code_from_another_session_is_attributed_and_flagged(
    runtime: BotRuntime, api_state: AppState
) -> None:
    await runtime.service.converse(_msg("cứu em với, em bị nhốt ở Campuchia"))
    await runtime.tick()
    with Session(api_state.engine) as session:
        (ticket,) = session.exec(select(Ticket)).all()
    code = ticket.reference_code
    other = "someone-else-session-000001"
    await runtime.service.converse(_msg(f"mã {code} sao rồi", sender=other))
    await runtime.service.converse(
        _msg("em về nhà rồi, các anh không cần liên lạc nữa", sender=other)
    )
    await runtime.tick()
    with Session(api_state.engine) as session:
        flagged = session.get(Ticket, ticket.id)
        senders = session.exec(
            select(TicketMessage.sender).where(TicketMessage.ticket_id == ticket.id)
        ).all()
    assert flagged is not None and flagged.other_sender is True
    assert flagged.priority == "P1" and flagged.status == ticket.status  # nothing else changed
    assert "another_sender" in senders


async def test_a_turns_state_is_stored_encrypted_and_read_back_whole(
    runtime: BotRuntime, api_state: AppState
) -> None:
    """The conversation's state (what the person told the bot so far) is written by the
    turn's own statement: encrypted at rest, as every column of personal data."""
    await runtime.service.converse(_msg("em muốn báo tin về đường dây đưa người sang Trung Quốc"))
    await runtime.service.converse(_msg("ở Lào Cai"))
    with api_state.engine.connect() as connection:
        stored = connection.execute(text("SELECT state FROM bot_conversations")).scalar_one()
    assert isinstance(stored, str) and "Lào Cai" not in stored and "Lao Cai" not in stored
    with Session(api_state.engine) as session:
        state = session.exec(select(Conversation)).one().state
    assert state and "Lào Cai" in str(state)
