from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlmodel import Session, func, select

from intake_api.models import Ticket
from intake_api.refcodes import ALPHABET
from tests.intake_api.conftest import Api, intake_body


def test_intake_creates_ticket_with_reference_code_and_sla(api: Api) -> None:
    response = api.intake(
        intake_body(priority="P1", category="request_rescue", agencies=["police", "dolisa"])
    )
    assert response.status_code == 201, response.text
    ticket = response.json()
    assert re.fullmatch(rf"TIP-[{ALPHABET}]{{5}}", ticket["reference_code"])
    assert ticket["status"] == "new" and ticket["priority"] == "P1"
    due = datetime.fromisoformat(ticket["due_at"])
    assert due.utcoffset() == timedelta(hours=7)  # shown in Asia/Ho_Chi_Minh
    detail = api.get("operator", f"/api/v1/tickets/{ticket['id']}").json()
    created = datetime.fromisoformat(detail["created_at"])
    assert due - created == timedelta(hours=1)
    assert detail["agencies"] == ["dolisa", "police"]
    assert detail["transcript"][0]["text"].startswith("nhà bên cạnh")
    assert detail["reporter"]["phone"] == "+84912345678"


def test_replayed_idempotency_key_returns_the_same_ticket(api: Api) -> None:
    first = api.intake(key="same-key-0001")
    second = api.intake(key="same-key-0001")
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["reference_code"] == second.json()["reference_code"]
    with Session(api.engine) as session:
        assert session.exec(select(func.count()).select_from(Ticket)).one() == 1


def test_key_reused_for_a_different_body_is_a_conflict(api: Api) -> None:
    assert api.intake(key="reused-key-01").status_code == 201
    other = api.intake(intake_body(text="một tin báo khác hẳn"), key="reused-key-01")
    assert other.status_code == 409
    assert "Idempotency-Key" in other.json()["detail"]


def test_concurrent_replays_create_exactly_one_ticket(api: Api) -> None:
    body = intake_body(priority="P1", category="request_rescue", agencies=["police", "dolisa"])
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: api.intake(body, key="race-key-000001"), range(16)))
    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses]
    assert sorted(r.status_code for r in responses).count(201) == 1
    assert len({r.json()["id"] for r in responses}) == 1
    with Session(api.engine) as session:
        assert session.exec(select(func.count()).select_from(Ticket)).one() == 1


def test_reference_codes_are_not_sequential(api: Api) -> None:
    codes = [api.new_ticket()["reference_code"] for _ in range(6)]
    assert len(set(codes)) == 6
    assert codes != sorted(codes)  # 1 in 720 chance of a false failure by order alone...
    # ...so also check they are not neighbours in the alphabet's order.
    tails = [c[-1] for c in codes]
    assert len(set(tails)) > 1


def test_intake_requires_the_service_role_and_a_key(api: Api) -> None:
    as_operator = api.post(
        "operator",
        "/api/v1/intake",
        json=intake_body(),
        headers={"Idempotency-Key": "operator-key-1"},
    )
    assert as_operator.status_code == 403
    no_key = api.post("bot", "/api/v1/intake", json=intake_body())
    assert no_key.status_code == 422
    assert "Idempotency-Key" in no_key.json()["detail"]
    anonymous = api.client.post(
        "/api/v1/intake", json=intake_body(), headers={"Idempotency-Key": "no-token-key"}
    )
    assert anonymous.status_code == 401


def test_unknown_agency_or_province_is_refused_by_name(api: Api) -> None:
    bad_agency = api.intake(intake_body(agencies=["interpol"]))
    assert bad_agency.status_code == 422
    assert "interpol" in bad_agency.json()["detail"]
    nowhere = api.intake(intake_body(province="Xứ Sở Thần Tiên"))
    assert nowhere.status_code == 422
    assert "Xứ Sở Thần Tiên" in nowhere.json()["detail"]


def test_status_lookup_by_reference_code_gives_status_only(api: Api) -> None:
    ticket = api.new_ticket()
    code = ticket["reference_code"]
    typed = code.lower().replace("-", " ")
    response = api.get("bot", f"/api/v1/tickets/by-reference/{typed}")
    assert response.status_code == 200
    assert set(response.json()) == {"reference_code", "status", "updated_at"}
    assert response.json()["status"] == "new"
    assert api.get("operator", f"/api/v1/tickets/by-reference/{code}").status_code == 403
    assert api.get("bot", "/api/v1/tickets/by-reference/TIP-ZZZZZ").status_code == 404


def test_further_reporter_messages_are_appended_once(api: Api) -> None:
    ticket = api.new_ticket()
    body = {"text": "họ vừa chuyển em sang chỗ khác", "message_id": "tg-42"}
    url = f"/api/v1/tickets/{ticket['id']}/messages"
    assert api.post("bot", url, json=body).json()["appended"] is True
    assert api.post("bot", url, json=body).json()["appended"] is False
    detail = api.get("operator", f"/api/v1/tickets/{ticket['id']}").json()
    assert [m["text"] for m in detail["transcript"]][-1] == body["text"]
    assert len(detail["transcript"]) == 2


def test_reporters_open_tickets_found_by_blind_index(api: Api) -> None:
    ticket = api.new_ticket()
    api.new_ticket(channel="sms")  # same user id, other channel: another reporter
    found = api.post(
        "bot",
        "/api/v1/reporters/open-tickets",
        json={"channel": "telegram", "channel_user_id": "tg-555001"},
    )
    assert [t["id"] for t in found.json()] == [ticket["id"]]
    by_phone = api.post("bot", "/api/v1/reporters/open-tickets", json={"phone": "+84912345678"})
    assert len(by_phone.json()) == 2
    without_plus = api.post("bot", "/api/v1/reporters/open-tickets", json={"phone": "84912345678"})
    assert len(without_plus.json()) == 2


def test_bot_may_propose_the_reference_code_it_already_gave_the_reporter(api: Api) -> None:
    made = api.intake(intake_body(reference_code="TIP-7K3Q9"))
    assert made.status_code == 201 and made.json()["reference_code"] == "TIP-7K3Q9"
    clash = api.intake(intake_body(reference_code="TIP-7K3Q9", text="một tin khác"))
    assert clash.status_code == 409 and "TIP-7K3Q9" in clash.json()["detail"]
    malformed = api.intake(intake_body(reference_code="TIP-0O1I0"))
    assert malformed.status_code == 422


def test_later_messages_add_details_and_can_only_raise_priority(api: Api) -> None:
    ticket = api.new_ticket(priority="P2", province=None, phone=None)
    url = f"/api/v1/tickets/by-reference/{ticket['reference_code']}/messages"
    body = {
        "text": "em đang ở Bavet",
        "message_id": "zl-1",
        "country": "Campuchia",
        "province": "Tây Ninh",
        "phone": "+84911222333",
        "priority": "P1",
    }
    assert api.post("bot", url, json=body).status_code == 201
    detail = api.get("operator", f"/api/v1/tickets/{ticket['id']}").json()
    assert (detail["priority"], detail["province"], detail["country"]) == (
        "P1",
        "Tây Ninh",
        "Campuchia",
    )
    assert detail["reporter"]["phone"] == "+84911222333"
    lower = api.post("bot", url, json={"text": "cảm ơn", "priority": "P3"})
    assert lower.status_code == 201
    assert api.get("operator", f"/api/v1/tickets/{ticket['id']}").json()["priority"] == "P1"
    bad = api.post("bot", url, json={"text": "x", "province": "Xứ Sở Thần Tiên"})
    assert bad.status_code == 422


def test_a_shared_location_is_kept_encrypted_and_shown_to_staff(api: Api) -> None:
    ticket = api.new_ticket(location={"lat": 10.6093, "lon": 103.5296})
    url = f"/api/v1/tickets/by-reference/{ticket['reference_code']}/messages"
    moved = {
        "text": "geo:11.56,104.92",
        "message_id": "loc-2",
        "location": {"lat": 11.5564, "lon": 104.9282},
    }
    assert api.post("bot", url, json=moved).status_code == 201
    detail = api.get("police", f"/api/v1/tickets/{ticket['id']}").json()
    assert detail["location"] == {"lat": 11.5564, "lon": 104.9282}
    bad = api.post("bot", url, json={"text": "x", "location": {"lat": 91, "lon": 0}})
    assert bad.status_code == 422 and "location.lat" in bad.json()["detail"]


def test_the_bots_parse_of_a_long_message_is_kept_whole(api: Api) -> None:
    """The bot sends the NLU parse with the whole text (the transcript cuts it in lines): a
    ticket must never be refused for the size of its NLU result within the body limit."""
    long_text = "cứu em với, em bị nhốt ở Campuchia " + "x" * 12_000
    entities = [
        {"entity": "country", "value": "Campuchia", "start": n, "end": n + 3} for n in range(300)
    ]
    nlu = {"text": long_text, "intent": {"name": "request_rescue", "confidence": 0.97}}
    made = api.intake(
        intake_body(priority="P1", category="request_rescue", nlu={**nlu, "entities": entities})
    )
    assert made.status_code == 201, made.text
    assert api.detail(made.json()["id"])["nlu"]["text"] == long_text
