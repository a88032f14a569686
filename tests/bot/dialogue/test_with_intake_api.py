"""The tickets the dialogue files are accepted by the real intake API (in-process transport)."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.intake.client import IntakeClient
from bot.intake.outbox import Outbox
from intake_api.models import Ticket, TicketMessage
from intake_api.state import AppState
from tests.bot.conftest import SwitchableTransport
from tests.bot.dialogue.fakes import Harness, ent


def _harness(api_state: AppState, transport: SwitchableTransport) -> Harness:
    client = IntakeClient(api_state.engine, transport, Outbox(api_state.engine, transport, 0.0))
    return Harness(intake=client)


def _tickets(api_state: AppState) -> list[Ticket]:
    with Session(api_state.engine) as session:
        return list(session.exec(select(Ticket)))


def _messages(api_state: AppState, ticket: Ticket) -> list[str]:
    with Session(api_state.engine) as session:
        rows = session.exec(
            select(TicketMessage)
            .where(TicketMessage.ticket_id == ticket.id)
            .order_by(TicketMessage.id)  # type: ignore[arg-type]
        )
        return [m.text for m in rows]


def test_a_rescue_with_a_huge_message_and_a_location_reaches_the_api(api_state, transport):
    bot = _harness(api_state, transport)
    huge = "cuu em voi, em bi nhot o cam " + "x" * 9_970
    bot.nlu.add(huge, "request_rescue", 0.97, ent("country", "Campuchia", "cam"))
    turn = bot.send(huge)
    [ticket] = _tickets(api_state)
    assert ticket.priority == "P1" and ticket.country == "Campuchia"
    assert ticket.reference_code in turn.replies[0].text
    bot.send(None, location=(11.5564, 104.9282))
    bot.send("5 nguoi")
    texts = _messages(api_state, ticket)
    assert "".join(t for t in texts if t.startswith(("cuu", "x")))[: len(huge)] == huge
    assert any(t.startswith("geo:11.556400,104.928200") for t in texts)
    assert texts[-1] == "5 nguoi"


def test_an_anonymous_tip_and_its_follow_up_through_the_api(api_state, transport):
    bot = _harness(api_state, transport)
    report = "nha ben canh co nguoi hay dan cac co gai tre sang tq lay chong"
    bot.nlu.add(report, "report_trafficking", 0.93, ent("country", "Trung Quốc", "tq"))
    bot.send(report)
    while bot.state.get("step") != "ask_consent":
        bot.send("bo qua")
    bot.send("an danh")
    [ticket] = _tickets(api_state)
    assert ticket.anonymous is True and ticket.reporter_phone is None
    assert ticket.category == "report_trafficking" and ticket.priority == "P2"

    fresh = _harness(api_state, transport)
    code = ticket.reference_code
    fresh.nlu.add(f"ma {code}", "follow_up", 0.99, ent("reference_code", code, code))
    turn = fresh.send(f"ma {code}")
    assert fresh.texts(turn)[0] == fresh.says("follow_up.status.new", code=code)
    transport.down = True
    fresh.nlu.add(
        "ma TIP-ZZZZZ", "follow_up", 0.99, ent("reference_code", "TIP-ZZZZZ", "TIP-ZZZZZ")
    )
    turn = fresh.send("ma TIP-ZZZZZ")
    assert fresh.texts(turn) == [fresh.says("follow_up.unavailable")]
