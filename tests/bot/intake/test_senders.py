"""The intake client tells the API who writes, without telling it who that is: a follow-up
from the reporter's conversation is the reporter's, one from any other conversation that
knows the code is from another sender and changes nothing on the ticket."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.intake.client import IntakeClient, sender_ref
from bot.intake.outbox import Outbox
from bot.intake.port import TicketUpdate
from intake_api.models import Ticket, TicketMessage
from intake_api.state import AppState
from tests.bot.conftest import SwitchableTransport
from tests.bot.intake.test_outbox import _draft


def _client(api_state: AppState, transport: SwitchableTransport) -> IntakeClient:
    return IntakeClient(api_state.engine, transport, Outbox(api_state.engine, transport, 0.0))


def _ticket(api_state: AppState) -> tuple[Ticket, list[TicketMessage]]:
    with Session(api_state.engine) as session:
        ticket = session.exec(select(Ticket)).one()
        rows = session.exec(
            select(TicketMessage)
            .where(TicketMessage.ticket_id == ticket.id)
            .order_by(TicketMessage.id)
        )
        return ticket, list(rows)


def test_a_follow_up_from_another_conversation_is_attributed_and_changes_nothing(
    api_state: AppState, transport: SwitchableTransport
) -> None:
    client = _client(api_state, transport)
    draft = _draft()
    code = client.submit_ticket(draft)
    client.update_ticket(
        code,
        TicketUpdate(
            text="em vẫn ở chỗ cũ", message_id="m1", conversation_id=draft.conversation_id
        ),
    )
    client.update_ticket(
        code,
        TicketUpdate(
            text="em về nhà rồi, các anh không cần liên lạc nữa",
            message_id="w1",
            province="Hà Nội",
            priority="P3",
            conversation_id="another-web-chat-session",
        ),
    )
    ticket, messages = _ticket(api_state)
    assert [m.sender for m in messages] == ["reporter", "reporter", "another_sender"]
    assert ticket.other_sender is True
    assert ticket.province == "Nghệ An" and ticket.priority == "P2"


def test_the_identifier_names_nobody_and_is_bound_to_the_ticket(
    api_state: AppState, transport: SwitchableTransport
) -> None:
    draft = _draft()
    code = _client(api_state, transport).submit_ticket(draft)
    ticket, _ = _ticket(api_state)
    assert ticket.sender_ref == sender_ref(code, draft.conversation_id)
    assert draft.conversation_id not in str(ticket.sender_ref)
    assert draft.sender_id not in str(ticket.sender_ref)
    # The same person on another ticket gets another identifier: nothing links the two.
    assert sender_ref("TIP-7K3Q9", draft.conversation_id) != ticket.sender_ref
    # However the code was typed, it is the same ticket's identifier.
    assert sender_ref(code.lower().replace("-", " "), draft.conversation_id) == ticket.sender_ref
