"""Who may open what in the console: the API's visibility rule and roles, page by page. A
ticket someone may not see is the same 404 page as a ticket that does not exist."""

from __future__ import annotations

import re

from sqlmodel import Session, func, select

from intake_api.models import Note, Ticket
from tests.intake_api.console.conftest import Console, csrf_of, refer


def options(html: str, select_id: str) -> list[str]:
    found = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    assert found, select_id
    return re.findall(r'<option value="([^"]*)"', found.group(1))


def notes(console: Console) -> int:
    with Session(console.api.engine) as session:
        return int(session.exec(select(func.count()).select_from(Note)).one())


def test_police_cannot_open_a_dolisa_only_ticket(console: Console) -> None:
    dolisa_only = console.api.new_ticket(agencies=["dolisa"], category="request_support")
    police = console.sign_in("police")
    hidden = police.get(f"/console/tickets/{dolisa_only['id']}")
    missing = police.get("/console/tickets/0123456789abcdef0123456789abcdef")
    assert hidden.status_code == missing.status_code == 404
    assert "Không tìm thấy tin báo" in hidden.text
    assert dolisa_only["reference_code"] not in hidden.text
    # Same page, whether the ticket exists or not: no way to probe for other agencies' cases.
    assert hidden.text.replace(dolisa_only["id"], "") == missing.text.replace(
        "0123456789abcdef0123456789abcdef", ""
    )
    # Nor can a form reach it.
    token = csrf_of(police.get("/console").text)
    posted = police.post(
        f"/console/tickets/{dolisa_only['id']}/notes",
        data={"csrf": token, "text": "đọc trộm"},
        follow_redirects=False,
    )
    assert posted.status_code == 404 and notes(console) == 0
    states = police.get(
        f"/console/tickets/{dolisa_only['id']}/replies", headers={"Accept": "application/json"}
    )
    assert states.status_code == 404
    # Its own agency's officer opens it.
    assert console.sign_in("dolisa").get(f"/console/tickets/{dolisa_only['id']}").status_code == 200


def test_each_queue_lists_only_what_its_agency_may_see(console: Console) -> None:
    api = console.api
    police_ticket = api.new_ticket(agencies=["police"])
    dolisa_ticket = api.new_ticket(agencies=["dolisa"], category="request_support")
    border_ticket = api.new_ticket(agencies=["border_guard"])
    referred = api.new_ticket(agencies=["police"])
    refer(api, referred["id"], "dolisa")

    def codes(who: str) -> set[str]:
        html = console.sign_in(who).get("/console").text
        return set(re.findall(r"TIP-[0-9A-Z]{5}", html))

    assert codes("police") == {police_ticket["reference_code"], referred["reference_code"]}
    # DOLISA sees the referral waiting for it.
    assert codes("dolisa") == {dolisa_ticket["reference_code"], referred["reference_code"]}
    assert codes("border") == {border_ticket["reference_code"]}
    everything = {t["reference_code"] for t in (police_ticket, dolisa_ticket, border_ticket)}
    assert codes("operator") >= everything | {referred["reference_code"]}


def test_pages_are_for_their_roles(console: Console) -> None:
    ticket = console.api.new_ticket()
    operator = console.sign_in("operator")
    assert operator.get("/console").status_code == 200
    assert operator.get("/console/dashboard").status_code == 403
    assert operator.get("/console/reports?year=2026&period=Q1&format=csv").status_code == 403
    assert operator.get("/console/admin").status_code == 403
    assert "Không có quyền" in operator.get("/console/admin").text
    supervisor = console.sign_in("supervisor")
    assert supervisor.get("/console/dashboard").status_code == 200
    assert supervisor.get("/console/admin").status_code == 403
    # An admin keeps accounts and sees no ticket contents (docs/api.md, Roles).
    admin_login = console.submit_login(console.browser(), "admin", "correct horse battery staple")
    assert admin_login.headers["location"] == "/console/admin"
    admin = console.sign_in("admin")
    assert admin.get("/console/admin").status_code == 200
    for url in ("/console", f"/console/tickets/{ticket['id']}", "/console/dashboard"):
        page = admin.get(url)
        assert page.status_code == 403, url
        assert ticket["reference_code"] not in page.text
    rows = admin.get("/console/queue/rows", headers={"Accept": "application/json"})
    assert rows.status_code == 403


def test_the_navigation_shows_only_what_the_role_opens(console: Console) -> None:
    operator = console.sign_in("operator").get("/console").text
    assert 'href="/console/dashboard"' not in operator and 'href="/console/admin"' not in operator
    supervisor = console.sign_in("supervisor").get("/console").text
    assert 'href="/console/dashboard"' in supervisor and 'href="/console/admin"' not in supervisor


def test_a_ticket_is_assigned_only_to_people_who_may_see_it(console: Console) -> None:
    api = console.api
    dolisa_only = api.new_ticket(agencies=["dolisa"], category="request_support")
    operator = console.sign_in("operator")
    page = operator.get(f"/console/tickets/{dolisa_only['id']}").text
    # Not the police, not the border guard, not the admin or the bot.
    assert options(page, "assign-to") == ["", "dolisa", "operator", "supervisor"]
    refused = operator.post(
        f"/console/tickets/{dolisa_only['id']}/assign",
        data={"csrf": csrf_of(page), "assignee": "police"},
        follow_redirects=False,
    )
    assert "err=not_assignable" in refused.headers["location"]
    with Session(api.engine) as session:
        assert session.get(Ticket, dolisa_only["id"]).assignee_id is None  # type: ignore[union-attr]
    done = operator.post(
        f"/console/tickets/{dolisa_only['id']}/assign",
        data={"csrf": csrf_of(page), "assignee": "dolisa"},
        follow_redirects=False,
    )
    assert "ok=assigned" in done.headers["location"]
    assert (
        api.get("operator", f"/api/v1/tickets/{dolisa_only['id']}").json()["assignee"] == "dolisa"
    )


def test_police_are_not_offered_and_cannot_change_priority(console: Console) -> None:
    ticket = console.api.new_ticket(agencies=["police"], priority="P3")
    police = console.sign_in("police")
    page = police.get(f"/console/tickets/{ticket['id']}").text
    assert 'id="priority-to"' not in page
    refused = police.post(
        f"/console/tickets/{ticket['id']}/priority",
        data={"csrf": csrf_of(page), "priority": "P1", "version": "1"},
        follow_redirects=False,
    )
    assert "err=forbidden" in refused.headers["location"]
    assert console.api.get("operator", f"/api/v1/tickets/{ticket['id']}").json()["priority"] == "P3"
    operator_page = console.sign_in("operator").get(f"/console/tickets/{ticket['id']}").text
    assert options(operator_page, "priority-to") == ["P1", "P2", "P3"]


def test_only_the_receiving_agency_decides_a_referral(console: Console) -> None:
    api = console.api
    ticket = api.new_ticket(agencies=["police"])
    referral = refer(api, ticket["id"], "dolisa")
    police = console.sign_in("police")
    page = police.get(f"/console/tickets/{ticket['id']}").text
    assert f"/referrals/{referral}/accept" not in page
    refused = police.post(
        f"/console/tickets/{ticket['id']}/referrals/{referral}/accept",
        data={"csrf": csrf_of(page)},
        follow_redirects=False,
    )
    assert "err=forbidden" in refused.headers["location"]
    assert api.get("operator", f"/api/v1/tickets/{ticket['id']}").json()["status"] == "referred"
    dolisa = console.sign_in("dolisa")
    dolisa_page = dolisa.get(f"/console/tickets/{ticket['id']}").text
    assert f"/referrals/{referral}/accept" in dolisa_page
