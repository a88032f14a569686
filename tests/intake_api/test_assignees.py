"""intake_api.assignees: a ticket goes only to someone who may open it."""

from __future__ import annotations

from sqlmodel import Session, select

from intake_api.assignees import assignable_users
from intake_api.models import User
from tests.intake_api.conftest import Api


def names(api: Api, ticket_id: str) -> list[str]:
    with Session(api.engine) as session:
        return [u.username for u in assignable_users(session, ticket_id)]


def test_only_active_ticket_workers_who_see_the_ticket(api: Api) -> None:
    police = api.new_ticket(agencies=["police"])
    dolisa = api.new_ticket(agencies=["dolisa"], category="request_support")
    border = api.new_ticket(agencies=["border_guard"])
    # Not the admin, not the bot; operators and supervisors see everything.
    assert names(api, police["id"]) == ["operator", "police", "supervisor"]
    assert names(api, dolisa["id"]) == ["dolisa", "operator", "supervisor"]
    # A police officer of the border guard works its agency's tickets, not the police's.
    assert names(api, border["id"]) == ["border", "operator", "supervisor"]
    with Session(api.engine) as session:
        user = session.exec(select(User).where(User.username == "supervisor")).one()
        user.active = False
        session.add(user)
        session.commit()
    assert names(api, police["id"]) == ["operator", "police"]


def test_a_pending_referral_makes_the_receiving_agency_assignable(api: Api) -> None:
    ticket = api.new_ticket(agencies=["police"])
    assert "dolisa" not in names(api, ticket["id"])
    referred = api.post(
        "operator",
        f"/api/v1/tickets/{ticket['id']}/referrals",
        json={"to_agency": "dolisa", "reason": "hỗ trợ nạn nhân"},
    )
    assert referred.status_code == 201
    assert "dolisa" in names(api, ticket["id"])


def test_an_unknown_ticket_has_only_those_who_see_everything(api: Api) -> None:
    assert names(api, "no-such-ticket") == ["operator", "supervisor"]
