"""Nothing silently dropped: work is assigned only to someone who can see it, accounts name a
configured agency, and a pre-2025 province name is mapped rather than refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from intake_api.app import create_app
from intake_api.identity import Caller
from intake_api.models import Referral, Ticket, User
from intake_api.rules.visibility import may_see
from intake_api.tickets import TicketFilters, agencies_of, visible_tickets
from tests.intake_api.conftest import Api, add_accounts, intake_body, make_settings


def _assign(api: Api, who: str, tid: str, assignee: str) -> Any:
    return api.patch(who, f"/api/v1/tickets/{tid}", json={"assignee": assignee})


def test_work_is_assigned_only_to_someone_who_can_see_it(api: Api) -> None:
    support = api.new_ticket(category="request_support", agencies=["dolisa"], priority="P3")
    refused = _assign(api, "dolisa", support["id"], "police")
    assert refused.status_code == 422
    assert "'police' cannot see this ticket" in refused.json()["detail"]
    assert api.detail(support["id"])["assignee"] is None
    assert _assign(api, "dolisa", support["id"], "dolisa").status_code == 200

    border = api.new_ticket(agencies=["border_guard"])
    assert _assign(api, "operator", border["id"], "police").status_code == 422
    assert _assign(api, "operator", border["id"], "border").status_code == 200
    # Operators and supervisors see everything, so they can always be given a ticket.
    assert _assign(api, "operator", api.new_ticket()["id"], "supervisor").status_code == 200


def test_a_pending_referral_makes_the_receiving_agency_assignable(api: Api) -> None:
    tid = api.new_ticket(agencies=["police"])["id"]
    api.refer(tid, "dolisa", "Cần hỗ trợ tâm lý")
    assert _assign(api, "operator", tid, "dolisa").status_code == 200


def test_routing_and_assigning_in_one_edit_checks_the_new_routing(api: Api) -> None:
    tid = api.new_ticket(agencies=["police"])["id"]
    both = api.patch(
        "operator", f"/api/v1/tickets/{tid}", json={"agencies": ["dolisa"], "assignee": "dolisa"}
    )
    assert both.status_code == 200, both.text
    assert both.json()["assignee"] == "dolisa"


def test_the_python_rule_and_the_sql_rule_agree_on_every_caller_and_ticket(api: Api) -> None:
    tickets = [
        api.new_ticket(agencies=["police"])["id"],
        api.new_ticket(agencies=["dolisa"])["id"],
        api.new_ticket(agencies=["police", "dolisa"])["id"],
        api.new_ticket(agencies=["border_guard"])["id"],
        api.new_ticket(agencies=["commune"])["id"],
    ]
    api.refer(tickets[0], "commune", "xã hỗ trợ")
    with Session(api.engine) as session:
        routed = agencies_of(session, tickets)
        pending: dict[str, list[str]] = {tid: [] for tid in tickets}
        for ref in session.exec(select(Referral).where(Referral.state == "pending")):
            pending[ref.ticket_id].append(ref.to_agency)
        users = list(session.exec(select(User)))
        users.append(
            User(
                id=999,
                username="commune-clerk",
                password_hash="x",
                roles="police",
                agency="commune",
            )
        )
        for user in users:
            caller = Caller.of(user)
            if caller.works_tickets:
                seen = {t.id for t in session.exec(visible_tickets(caller, TicketFilters()))}
            else:
                seen = set()
            for tid in tickets:
                assert may_see(caller, routed[tid], pending[tid]) == (tid in seen), (
                    user.username,
                    tid,
                )


def test_an_account_for_an_unconfigured_agency_is_refused(api: Api) -> None:
    body = {"username": "agent.x", "password": "a-long-enough-password", "roles": ["police"]}
    fbi = api.post("admin", "/api/v1/users", json={**body, "agency": "fbi"})
    assert fbi.status_code == 422
    assert "fbi" in fbi.json()["detail"] and "border_guard" in fbi.json()["detail"]
    ok = api.post("admin", "/api/v1/users", json={**body, "agency": "coast_guard"})
    assert ok.status_code == 201 and ok.json()["agency"] == "coast_guard"


def test_a_police_account_needs_its_agency_configured(engine: Engine, tmp_path: Path) -> None:
    from intake_api.config import Agency

    settings = make_settings(tmp_path, agencies=[Agency(code="dolisa", name="Sở Y tế")])
    tokens = add_accounts(engine)
    client = TestClient(create_app(settings, engine), raise_server_exceptions=False)
    body = {"username": "officer.x", "password": "a-long-enough-password", "roles": ["police"]}
    refused = client.post(
        "/api/v1/users", json=body, headers={"Authorization": f"Bearer {tokens['admin']}"}
    )
    assert refused.status_code == 422 and "'police'" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Bình Dương", "Thành phố Hồ Chí Minh"),
        ("binh duong", "Thành phố Hồ Chí Minh"),
        ("Bến Tre", "Vĩnh Long"),
        ("Hà Giang", "Tuyên Quang"),
        ("Nghệ An", "Nghệ An"),
    ],
)
def test_a_pre_2025_province_is_stored_as_the_unit_that_absorbed_it(
    api: Api, given: str, stored: str
) -> None:
    ticket = api.new_ticket(province=given)
    assert api.detail(ticket["id"])["province"] == stored


def test_a_later_message_and_the_queue_filter_map_old_names_too(api: Api) -> None:
    ticket = api.new_ticket(province=None)
    url = f"/api/v1/tickets/{ticket['id']}/messages"
    assert (
        api.post("bot", url, json={"text": "em ở Bình Dương", "province": "Bình Dương"}).status_code
        == 201
    )
    assert api.detail(ticket["id"])["province"] == "Thành phố Hồ Chí Minh"
    found = api.get("operator", "/api/v1/tickets", params={"province": "Bình Dương"}).json()
    assert [t["id"] for t in found["items"]] == [ticket["id"]]


def test_without_the_names_file_only_the_configured_names_are_accepted(
    engine,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    settings = make_settings(tmp_path, province_names_file=None)
    tokens = add_accounts(engine)
    client = TestClient(create_app(settings, engine), raise_server_exceptions=False)
    headers = {"Authorization": f"Bearer {tokens['bot']}", "Idempotency-Key": "no-names-0001"}
    refused = client.post(
        "/api/v1/intake", json=intake_body(province="Bình Dương"), headers=headers
    )
    assert refused.status_code == 422 and "Bình Dương" in refused.json()["detail"]
    with Session(engine) as session:
        assert session.exec(select(Ticket)).first() is None


def test_a_configured_names_file_that_is_missing_stops_start_up(
    engine: Engine, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, province_names_file=tmp_path / "provinces.yml")
    with pytest.raises(RuntimeError, match="province_names_file"):
        create_app(settings, engine)
