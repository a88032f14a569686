from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, func, select

from bot.intake.client import IntakeClient
from bot.intake.outbox import Outbox
from bot.intake.port import TicketDraft, TicketUpdate, TranscriptLine
from bot.models import OutboxItem
from intake_api.models import Ticket, TicketMessage
from intake_api.state import AppState
from tests.bot.conftest import SwitchableTransport


def _draft(n: int = 0) -> TicketDraft:
    return TicketDraft(
        channel="telegram",
        sender_id=f"tg-{n}",
        conversation_id=f"conv{n}",
        transcript=[
            TranscriptLine(
                "in", f"có người dụ em gái tôi sang Trung Quốc {n}", datetime.now(UTC).isoformat()
            )
        ],
        nlu=None,
        triage={
            "priority": "P2",
            "category": "report_trafficking",
            "agencies": ["police"],
            "reasons": ["a concrete case"],
        },
        province="Nghệ An",
        country="Trung Quốc",
    )


def _client(api_state: AppState, transport: SwitchableTransport) -> IntakeClient:
    return IntakeClient(api_state.engine, transport, Outbox(api_state.engine, transport, 0.0))


def _tickets(api_state: AppState) -> int:
    with Session(api_state.engine) as session:
        return session.exec(select(func.count()).select_from(Ticket)).one()


def test_ticket_reaches_the_api_at_once_with_the_code_the_reporter_got(
    api_state: AppState, transport: SwitchableTransport
) -> None:
    code = _client(api_state, transport).submit_ticket(_draft())
    with Session(api_state.engine) as session:
        ticket = session.exec(select(Ticket)).one()
    assert ticket.reference_code == code and ticket.province == "Nghệ An"


def test_with_the_api_down_ten_tips_wait_and_arrive_exactly_once(
    api_state: AppState, transport: SwitchableTransport
) -> None:
    client = _client(api_state, transport)
    transport.down = True
    codes = [client.submit_ticket(_draft(n)) for n in range(10)]
    assert len(set(codes)) == 10 and _tickets(api_state) == 0
    assert client.outbox.pending_count() == 10
    # The reporter asking about a tip still in the outbox hears it was received.
    assert client.lookup_status(codes[0]).status == "new"  # type: ignore[union-attr]
    transport.down = False
    assert client.outbox.deliver_pending() == 10
    assert client.outbox.deliver_pending() == 0
    assert _tickets(api_state) == 10
    with Session(api_state.engine) as session:
        assert sorted(session.exec(select(Ticket.reference_code)).all()) == sorted(codes)


def test_messages_wait_behind_their_ticket_and_keep_their_order(
    api_state: AppState, transport: SwitchableTransport
) -> None:
    client = _client(api_state, transport)
    transport.down = True
    code = client.submit_ticket(_draft())
    for n in range(3):
        client.update_ticket(code, TicketUpdate(text=f"thêm chi tiết {n}", message_id=f"m{n}"))
    client.update_ticket(code, TicketUpdate(text="thêm chi tiết 0", message_id="m0"))  # retry
    transport.down = False
    assert client.outbox.deliver_pending() == 4
    with Session(api_state.engine) as session:
        texts = session.exec(select(TicketMessage.text).order_by(TicketMessage.id)).all()
    assert texts[1:] == ["thêm chi tiết 0", "thêm chi tiết 1", "thêm chi tiết 2"]


def test_a_replayed_delivery_after_an_unclear_failure_creates_no_second_ticket(
    api_state: AppState, transport: SwitchableTransport
) -> None:
    client = _client(api_state, transport)
    draft = _draft()
    code = client.submit_ticket(draft)
    # The API got it but the answer was lost: the same item is delivered again.
    from bot.intake.client import intake_body

    again = transport.inner.create(intake_body(draft, code), f"bot:{draft.conversation_id}:{code}")
    assert again["reference_code"] == code
    assert _tickets(api_state) == 1


def test_unknown_code_and_api_down_are_told_apart(
    api_state: AppState, transport: SwitchableTransport
) -> None:
    import pytest

    from bot.intake.port import IntakeUnavailable

    client = _client(api_state, transport)
    assert client.lookup_status("TIP-ZZZZZ") is None
    transport.down = True
    with pytest.raises(IntakeUnavailable):
        client.lookup_status("TIP-ZZZZZ")


def test_the_same_message_processed_again_finds_its_ticket_instead_of_filing_another(
    api_state: AppState, transport: SwitchableTransport
) -> None:
    client = _client(api_state, transport)
    draft = _draft()
    draft.source_message_id = "tg:777:42"
    first = client.submit_ticket(draft)
    # A crash lost the conversation state; the stored message is processed again.
    assert client.submit_ticket(draft) == first
    assert _tickets(api_state) == 1
    other = _draft()
    other.source_message_id = "tg:777:43"
    assert client.submit_ticket(other) != first


def test_a_refused_item_is_kept_listed_and_can_be_sent_again(
    api_state: AppState, transport: SwitchableTransport
) -> None:
    from bot.intake.outbox import requeue, stuck_items

    client = _client(api_state, transport)
    api_state.settings.provinces.remove("Nghệ An")  # a configuration mistake refuses the tip
    code = client.submit_ticket(_draft())
    (item,) = stuck_items(api_state.engine)
    assert item.state == "failed" and "Nghệ An" in (item.last_error or "")
    assert _tickets(api_state) == 0
    api_state.settings.provinces.append("Nghệ An")  # fixed
    assert requeue(api_state.engine, None) == 1
    assert client.outbox.deliver_pending() == 1
    with Session(api_state.engine) as session:
        assert session.exec(select(Ticket.reference_code)).one() == code
    assert stuck_items(api_state.engine) == []


def _written_with_the_turn(api_state: AppState, items: list[OutboxItem]) -> None:
    """As the message service writes a turn's filings: in its transaction, leased to itself."""
    with Session(api_state.engine, expire_on_commit=False) as session:
        for item in items:
            item.leased_until = datetime.now(UTC) + timedelta(seconds=60)
            session.add(item)
        session.commit()


def _states(api_state: AppState) -> list[tuple[str, str]]:
    with Session(api_state.engine) as session:
        rows = session.exec(select(OutboxItem).order_by(col(OutboxItem.id))).all()
        return [(row.kind, row.state) for row in rows]


def test_a_message_waits_for_its_ticket_still_on_its_way_and_follows_it(
    api_state: AppState, transport: SwitchableTransport
) -> None:
    # A rescue request's ticket is on its way (its turn is still sending the reply, on a slow
    # platform, or another process holds it) when the person's next message, which adds to
    # that ticket, is delivered by its own turn. Delivered first, the API would not know the
    # code yet: the message must wait for its ticket, never be refused for good.
    client = _client(api_state, transport)
    with client.turn() as first:
        code = client.submit_ticket(_draft())
    _written_with_the_turn(api_state, first)
    with client.turn() as second:
        client.update_ticket(
            code, TicketUpdate(text="em ở Sihanoukville, phòng 305", message_id="m2")
        )
    _written_with_the_turn(api_state, second)

    assert client.outbox.deliver_held(second) == 0
    assert _states(api_state) == [("create", "pending"), ("append", "pending")]
    assert _tickets(api_state) == 0

    # The ticket arrives, and the message with it, without waiting for a background round.
    assert client.outbox.deliver_held(first) == 2  # the ticket, then the message behind it
    assert _states(api_state) == [("create", "delivered"), ("append", "delivered")]
    with Session(api_state.engine) as session:
        texts = session.exec(select(TicketMessage.text).order_by(TicketMessage.id)).all()
    assert texts[-1] == "em ở Sihanoukville, phòng 305"


def test_a_message_whose_ticket_is_delivered_goes_out_with_its_turn(
    api_state: AppState, transport: SwitchableTransport
) -> None:
    client = _client(api_state, transport)
    code = client.submit_ticket(_draft())
    with client.turn() as turn:
        client.update_ticket(code, TicketUpdate(text="thêm chi tiết", message_id="m1"))
    _written_with_the_turn(api_state, turn)
    assert client.outbox.deliver_held(turn) == 1
    assert _states(api_state) == [("create", "delivered"), ("append", "delivered")]


def test_a_ticket_and_a_message_to_it_filed_together_go_out_together(
    api_state: AppState, transport: SwitchableTransport
) -> None:
    # Two messages of one person answered in one batch: the first files the ticket, the
    # second adds to it; the ticket is not an earlier item to wait for, it goes first.
    client = _client(api_state, transport)
    with client.turn() as batch:
        code = client.submit_ticket(_draft())
        client.update_ticket(code, TicketUpdate(text="thêm chi tiết", message_id="m1"))
    _written_with_the_turn(api_state, batch)
    assert client.outbox.deliver_held(batch) == 2
    assert _states(api_state) == [("create", "delivered"), ("append", "delivered")]
