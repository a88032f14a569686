"""The queue: most urgent first, the service level and the flags at a glance, the filters, the
refresh the page polls, and no personal data in any of it."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from sqlmodel import Session

from intake_api.console.flags import flags_of
from intake_api.db import utcnow
from intake_api.models import Ticket
from intake_api.rules.silence import FILED_AFTER_SILENCE
from tests.intake_api.console.conftest import Console, failed_reply


def codes_in_order(html: str) -> list[str]:
    return re.findall(r'class="code" href="[^"]+">(TIP-[0-9A-Z]{5})<', html)


def rows(browser: Any, **params: str) -> dict[str, Any]:
    response = browser.get(
        "/console/queue/rows", params=params, headers={"Accept": "application/json"}
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    return response.json()  # type: ignore[no-any-return]


def age(console: Console, ticket_id: str, hours: float, answered: bool = False) -> None:
    with Session(console.api.engine) as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        ticket.created_at = utcnow() - timedelta(hours=hours)
        ticket.due_at = ticket.created_at + timedelta(hours=1 if ticket.priority == "P1" else 24)
        if answered:
            ticket.first_response_at = ticket.created_at + timedelta(minutes=20)
        session.add(ticket)
        session.commit()


def test_p1_comes_first_then_p2_then_p3_and_closed_tickets_leave_the_open_queue(
    console: Console,
) -> None:
    api = console.api
    p3 = api.new_ticket(priority="P3", category="check_offer")
    p2 = api.new_ticket(priority="P2")
    p1 = api.new_ticket(priority="P1", category="request_rescue")
    done = api.new_ticket(priority="P1", category="request_rescue")
    for status in ("acknowledged", "in_progress", "resolved"):
        api.patch("operator", f"/api/v1/tickets/{done['id']}", json={"status": status})
    operator = console.sign_in("operator")
    html = operator.get("/console").text
    assert codes_in_order(html) == [t["reference_code"] for t in (p1, p2, p3)]
    everything = operator.get("/console", params={"status": "all"}).text
    assert codes_in_order(everything)[-1] == done["reference_code"]  # closed ones last
    assert codes_in_order(operator.get("/console", params={"status": "resolved"}).text) == [
        done["reference_code"]
    ]


def test_time_left_and_overdue_tickets_stand_out(console: Console) -> None:
    api = console.api
    overdue = api.new_ticket(priority="P1", category="request_rescue")
    answered = api.new_ticket(priority="P2")
    fresh = api.new_ticket(priority="P2")
    age(console, overdue["id"], hours=3)
    age(console, answered["id"], hours=30, answered=True)
    html = console.sign_in("operator").get("/console").text
    row = {code: html[html.index(code) : html.index(code) + 600] for code in codes_in_order(html)}
    assert "Quá hạn 2 giờ" in row[overdue["reference_code"]]
    assert "Đã phản hồi" in row[answered["reference_code"]]
    assert "Còn 23 giờ" in row[fresh["reference_code"]]
    assert f'id="t-{overdue["id"]}" data-id="{overdue["id"]}" class="prio-row-P1 is-overdue' in html


def test_the_flags_staff_must_not_miss_are_in_the_queue(console: Console) -> None:
    api = console.api
    troubled = api.new_ticket()
    quiet = api.new_ticket()
    failed_reply(api, troubled["id"])
    html = console.sign_in("operator").get("/console").text
    start = html.index(f'id="t-{troubled["id"]}"')
    assert "Có trả lời không gửi được" in html[start : html.index("</tr>", start)]
    start = html.index(f'id="t-{quiet["id"]}"')
    assert "flag-" not in html[start : html.index("</tr>", start)]


def test_another_sender_and_filing_after_silence_are_flagged_in_the_queue(
    console: Console,
) -> None:
    api = console.api
    followed = api.new_ticket()
    silent = api.new_ticket()
    with Session(api.engine) as session:
        ticket = session.get(Ticket, followed["id"])
        assert ticket is not None
        ticket.other_sender = True
        session.add(ticket)
        quiet = session.get(Ticket, silent["id"])
        assert quiet is not None
        quiet.triage_reasons = [*(quiet.triage_reasons or []), FILED_AFTER_SILENCE]
        session.add(quiet)
        session.commit()
    html = console.sign_in("operator").get("/console").text
    for ticket_id in (followed["id"], silent["id"]):
        start = html.index(f'id="t-{ticket_id}"')
        assert "flag-" in html[start : html.index("</tr>", start)]
    ticket = Ticket.model_construct(id="t1")
    assert not flags_of(ticket, failed_reply=False).any
    marked = SimpleNamespace(other_sender=True, triage_reasons=[FILED_AFTER_SILENCE])
    flags = flags_of(marked, failed_reply=False)
    assert flags.another_sender and flags.after_silence and not flags.failed_reply


def test_filters_and_search(console: Console) -> None:
    api = console.api
    zalo = api.new_ticket(channel="zalo", province="Hà Nội")
    sms = api.new_ticket(channel="sms", priority="P3", category="check_offer")
    urgent = api.new_ticket(priority="P1", category="request_rescue", province="An Giang")
    mine = api.new_ticket()
    api.patch("operator", f"/api/v1/tickets/{mine['id']}", json={"assignee": "operator"})
    dolisa = api.new_ticket(agencies=["dolisa"], category="request_support")
    operator = console.sign_in("operator")

    def codes(**params: str) -> set[str]:
        return set(codes_in_order(operator.get("/console", params=params).text))

    assert codes(channel="zalo") == {zalo["reference_code"]}
    assert codes(priority="P1") == {urgent["reference_code"]}
    assert codes(province="An Giang") == {urgent["reference_code"]}
    assert codes(agency="dolisa") == {dolisa["reference_code"]}
    assert codes(assignee="me") == {mine["reference_code"]}
    assert mine["reference_code"] not in codes(assignee="none")
    assert codes(q=sms["reference_code"].lower()) == {sms["reference_code"]}
    assert codes(q="an giang") == {urgent["reference_code"]}
    # The form keeps what was chosen.
    page = operator.get("/console", params={"channel": "zalo"}).text
    assert '<option value="zalo" selected>' in page and "(đang lọc)" in page


def test_nonsense_in_the_filters_is_ignored_not_an_error(console: Console) -> None:
    ticket = console.api.new_ticket()
    operator = console.sign_in("operator")
    for params in (
        {"status": "bogus"},
        {"priority": "P9"},
        {"channel": "carrier-pigeon"},
        {"province": "<script>alert(1)</script>"},
        {"agency": "'; drop table tickets; --"},
        {"assignee": "Robert'); DROP"},
        {"q": "tip\x00-abc"},
        {"q": "x" * 5000},
        {"page": "-4"},
        {"page": "99999999999999999999"},
    ):
        response = operator.get("/console", params=params)
        assert response.status_code == 200, params
        assert "<script>alert(1)</script>" not in response.text
    assert ticket["reference_code"] in operator.get("/console", params={"status": "bogus"}).text


def test_the_refresh_brings_new_tickets_and_names_the_urgent_ones(console: Console) -> None:
    api = console.api
    old = api.new_ticket()
    operator = console.sign_in("operator")
    first = rows(operator)
    assert first["ids"] == [old["id"]] and first["urgent"] == [] and first["total"] == 1
    p1 = api.new_ticket(priority="P1", category="request_rescue")
    p3 = api.new_ticket(priority="P3", category="check_offer")
    second = rows(operator)
    assert second["ids"] == [p1["id"], old["id"], p3["id"]]  # the P1 on top
    assert second["urgent"] == [p1["id"]]
    assert second["total"] == 3
    assert codes_in_order(second["html"]) == [t["reference_code"] for t in (p1, old, p3)]
    # The refresh keeps the page's filters.
    assert rows(operator, priority="P3")["ids"] == [p3["id"]]


def test_no_personal_data_in_the_queue(console: Console) -> None:
    console.api.new_ticket(phone="+84987654321")
    operator = console.sign_in("operator")
    for text in (operator.get("/console").text, rows(operator)["html"]):
        assert "Nguyễn Thị Lan" not in text  # the reporter's name in intake_body
        assert "987654321" not in text and "tg-555001" not in text
        assert "nhà bên cạnh" not in text  # the message itself


def test_a_long_queue_is_paged(console: Console) -> None:
    for _ in range(52):
        console.api.new_ticket()
    operator = console.sign_in("operator")
    first = operator.get("/console").text
    second = operator.get("/console", params={"page": "2"}).text
    assert len(codes_in_order(first)) == 50 and len(codes_in_order(second)) == 2
    assert "Trang 1 / 2" in first and 'href="/console?page=2"' in first
    assert not set(codes_in_order(first)) & set(codes_in_order(second))
