"""The bot and the API in separate processes: the HTTP transport against a real server on
127.0.0.1, including the API being stopped and started again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from bot.intake.client import IntakeClient
from bot.intake.outbox import Outbox
from bot.intake.port import TicketDraft, TicketUpdate, TranscriptLine
from bot.intake.transport import HttpTransport, Rejected, Unavailable
from intake_api.app import create_app
from intake_api.models import Reply, Ticket, User
from intake_api.tokens import issue_token
from tests.intake_api.conftest import make_settings
from tests.local_http import ServedApp


@pytest.fixture
def server(engine: Engine, tmp_path: Path) -> Iterator[ServedApp]:
    api = ServedApp(create_app(make_settings(tmp_path), engine)).start()
    yield api
    api.stop()


@pytest.fixture
def token(engine: Engine) -> str:
    with Session(engine) as session:
        bot = User(username="bot", password_hash="x", roles="service")
        session.add(bot)
        session.commit()
        return issue_token(session, bot, timedelta(hours=1))


def _draft(n: int) -> TicketDraft:
    return TicketDraft(
        channel="sms",
        sender_id="+84987000111",
        conversation_id=f"http{n}",
        transcript=[
            TranscriptLine("in", f"cứu em, em bị nhốt ở Lào {n}", datetime.now(UTC).isoformat())
        ],
        nlu=None,
        triage={"priority": "P1", "category": "request_rescue", "agencies": ["police", "dolisa"]},
        country="Lào",
    )


def _count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Ticket)).one()


def test_bot_files_over_http_and_survives_the_api_being_stopped(
    server: ServedApp, token: str, engine: Engine
) -> None:
    transport = HttpTransport(server.url, token, timeout=2.0)
    client = IntakeClient(engine, transport, Outbox(engine, transport, 0.0))
    first = client.submit_ticket(_draft(0))
    assert _count(engine) == 1
    assert client.lookup_status(first).status == "new"  # type: ignore[union-attr]

    server.stop()
    codes = [client.submit_ticket(_draft(n)) for n in range(1, 11)]
    client.update_ticket(codes[0], TicketUpdate(text="em ở gần biên giới", message_id="u1"))
    with pytest.raises(Unavailable):
        transport.status(first)
    assert _count(engine) == 1 and client.outbox.pending_count() == 11

    server.start()
    client.outbox.deliver_pending()
    assert _count(engine) == 11 and client.outbox.pending_count() == 0
    client.outbox.deliver_pending()
    assert _count(engine) == 11
    with Session(engine) as session:
        assert set(session.exec(select(Ticket.reference_code)).all()) == {first, *codes}


def test_staff_replies_are_claimed_and_reported_over_http(
    server: ServedApp, token: str, engine: Engine
) -> None:
    transport = HttpTransport(server.url, token, timeout=2.0)
    client = IntakeClient(engine, transport, Outbox(engine, transport, 0.0))
    code = client.submit_ticket(_draft(0))
    with Session(engine) as session:
        ticket = session.exec(select(Ticket).where(Ticket.reference_code == code)).one()
        session.add(
            Reply(
                ticket_id=ticket.id,
                author="police",
                text="Giữ an toàn nhé",
                channel="sms",
                state="queued",
            )
        )
        session.commit()
    (claimed,) = transport.claim_replies(10, ["sms"])
    assert claimed["channel_user_id"] == "+84987000111" and claimed["text"] == "Giữ an toàn nhé"
    assert transport.claim_replies(10, ["sms"]) == []
    transport.report_delivery(claimed["id"], True, None)
    with Session(engine) as session:
        assert session.exec(select(Reply)).one().state == "delivered"
    with pytest.raises(Rejected):
        transport.report_delivery(999_999, True, None)


def test_a_wrong_token_is_a_rejection_not_a_retry(server: ServedApp, engine: Engine) -> None:
    transport = HttpTransport(server.url, "hl_wrong", timeout=2.0)
    with pytest.raises(Rejected) as caught:
        transport.create({"channel": "sms"}, "key-000001")
    assert caught.value.status == 401


def test_tips_wait_while_the_bot_token_is_refused(
    server: ServedApp, token: str, engine: Engine
) -> None:
    bad = HttpTransport(server.url, "hl_expired", timeout=2.0)
    client = IntakeClient(engine, bad, Outbox(engine, bad, 0.0))
    code = client.submit_ticket(_draft(0))
    assert _count(engine) == 0 and client.outbox.pending_count() == 1
    fixed = HttpTransport(server.url, token, timeout=2.0)
    assert Outbox(engine, fixed, 0.0).deliver_pending() == 1
    with Session(engine) as session:
        assert session.exec(select(Ticket.reference_code)).one() == code


def test_what_a_call_left_reaches_the_ticket_over_http_once(
    server: ServedApp, token: str, engine: Engine
) -> None:
    from intake_api.models import CallRecord

    transport = HttpTransport(server.url, token, timeout=2.0)
    client = IntakeClient(engine, transport, Outbox(engine, transport, 0.0))
    draft = _draft(99)
    draft.channel = "voice"
    code = client.submit_ticket(draft)
    leg = {
        "key": "leg-on_call",
        "kind": "leg",
        "call_sid": "CA" + "0" * 32,
        "target": "on_call",
        "outcome": "busy",
    }
    client.record_call(code, leg)
    client.record_call(code, leg)  # a replay: queued once
    assert transport.call(code, leg) == {
        "ticket_id": transport.call(code, leg)["ticket_id"],
        "recorded": False,
    }
    with Session(engine) as session:
        [row] = session.exec(select(CallRecord)).all()
        assert (row.kind, row.outcome) == ("leg", "busy")
    with pytest.raises(Rejected) as refused:
        transport.call(code, {**leg, "key": "other", "outcome": "maybe"})
    assert refused.value.status == 422
