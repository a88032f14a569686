"""Each account does its job and no more (docs/api.md, Roles): the configured bot and partner
integrations are service accounts that reach only the tickets they filed; a further message
adds information but never overwrites contact data; every service action is audited."""

from __future__ import annotations

import pytest

from tests.intake_api.conftest import Api, intake_body


def _reply(api: Api, ticket_id: str, text: str = "Chúng tôi đã nhận tin.") -> int:
    made = api.post("operator", f"/api/v1/tickets/{ticket_id}/replies", json={"text": text})
    assert made.status_code == 201, made.text
    return made.json()["id"]


def test_a_partner_files_tickets_and_follows_up_on_its_own(api: Api) -> None:
    mine = api.new_ticket(who="partner", channel="webchat")
    code = mine["reference_code"]
    status = api.get("partner", f"/api/v1/tickets/by-reference/{code}")
    assert status.status_code == 200 and status.json()["status"] == "new"
    added = api.post(
        "partner",
        f"/api/v1/tickets/by-reference/{code}/messages",
        json={"text": "gia đình đã báo thêm", "message_id": "p-1"},
    )
    assert added.status_code == 201, added.text
    by_id = api.post(
        "partner", f"/api/v1/tickets/{mine['id']}/messages", json={"text": "thêm một chi tiết"}
    )
    assert by_id.status_code == 201
    transcript = [m["text"] for m in api.detail(mine["id"])["transcript"]]
    assert transcript[-2:] == ["gia đình đã báo thêm", "thêm một chi tiết"]


def test_a_partner_reaches_no_ticket_it_did_not_file(api: Api) -> None:
    theirs = api.new_ticket(who="bot", priority="P1", category="request_rescue")
    code, tid = theirs["reference_code"], theirs["id"]
    before = api.detail(tid)
    assert api.get("partner", f"/api/v1/tickets/by-reference/{code}").status_code == 404
    for url in (f"/api/v1/tickets/by-reference/{code}/messages", f"/api/v1/tickets/{tid}/messages"):
        response = api.post("partner", url, json={"text": "em về nhà rồi", "priority": "P1"})
        assert response.status_code == 404, (url, response.text)
    after = api.detail(tid)
    assert after["transcript"] == before["transcript"] and after["version"] == before["version"]


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("post", "/api/v1/reporters/open-tickets", {"phone": "+84912345678"}),
        ("post", "/api/v1/outbound/replies/claim", None),
        ("post", "/api/v1/outbound/replies/1/result", {"state": "delivered"}),
        ("get", "/api/v1/tickets", None),
        ("get", "/api/v1/stats", None),
        ("get", "/api/v1/audit", None),
        ("get", "/api/v1/users", None),
    ],
)
def test_a_partner_may_do_nothing_else(
    api: Api, method: str, url: str, body: dict[str, object] | None
) -> None:
    api.new_ticket(who="partner")
    response = getattr(api.client, method)(
        url, headers=api.headers("partner"), **({"json": body} if body is not None else {})
    )
    assert response.status_code == 403, response.text
    assert "role" in response.json()["detail"]


def test_reporter_look_up_by_phone_is_the_bots_alone_and_only_over_its_own_tickets(
    api: Api,
) -> None:
    api.new_ticket(who="partner")  # the same phone number, filed by the partner
    own = api.new_ticket(who="bot")
    lookup = {"phone": "+84912345678"}
    assert api.post("partner", "/api/v1/reporters/open-tickets", json=lookup).status_code == 403
    found = api.post("bot", "/api/v1/reporters/open-tickets", json=lookup)
    assert [t["id"] for t in found.json()] == [own["id"]]
    assert api.post("otherbot", "/api/v1/reporters/open-tickets", json=lookup).json() == []


def test_a_bot_claims_only_replies_of_tickets_it_filed(api: Api) -> None:
    ours = api.new_ticket(who="bot")
    theirs = api.new_ticket(who="otherbot", channel="zalo")
    partners = api.new_ticket(who="partner", channel="webchat")
    ours_reply = _reply(api, ours["id"])
    theirs_reply = _reply(api, theirs["id"], "Gửi bạn ở Zalo")
    _reply(api, partners["id"], "Gửi đối tác")
    claimed = api.post("bot", "/api/v1/outbound/replies/claim").json()
    assert [c["id"] for c in claimed] == [ours_reply]
    # Reporting on a reply of someone else's ticket: as if it did not exist, and it stays put.
    forged = api.post(
        "bot", f"/api/v1/outbound/replies/{theirs_reply}/result", json={"state": "delivered"}
    )
    assert forged.status_code == 404
    replies = api.detail(theirs["id"])["replies"]
    assert [(r["id"], r["state"]) for r in replies] == [(theirs_reply, "queued")]
    other = api.post("otherbot", "/api/v1/outbound/replies/claim").json()
    assert [c["id"] for c in other] == [theirs_reply]


def test_a_further_message_never_overwrites_the_reporters_contact_data(api: Api) -> None:
    ticket = api.new_ticket(priority="P2", phone="+84912345678")
    url = f"/api/v1/tickets/{ticket['id']}/messages"
    body = {"text": "số mới của em là 0987 000 111", "phone": "0987000111", "priority": "P3"}
    assert api.post("bot", url, json=body).status_code == 201
    detail = api.detail(ticket["id"])
    assert detail["reporter"]["phone"] == "+84912345678"
    assert detail["reporter"]["name"] == "Nguyễn Thị Lan"
    assert detail["priority"] == "P2"  # a message never lowers priority
    # The other number is not lost: staff see it with the message it came with.
    assert detail["transcript"][-1]["phone"] == "+84987000111"
    found = api.post("bot", "/api/v1/reporters/open-tickets", json={"phone": "+84987000111"})
    assert found.json() == []  # and it does not make the ticket findable by that number
    raised = api.post("bot", url, json={"text": "họ đang đánh em", "priority": "P1"})
    assert raised.status_code == 201
    assert api.detail(ticket["id"])["priority"] == "P1"


def test_an_anonymous_reporters_ticket_gets_no_phone_from_a_later_message(api: Api) -> None:
    body = intake_body(phone=None)
    body["reporter"] = {"anonymous": True}
    ticket = api.intake(body).json()
    url = f"/api/v1/tickets/{ticket['id']}/messages"
    assert (
        api.post("bot", url, json={"text": "gọi số này", "phone": "0987000111"}).status_code == 201
    )
    detail = api.detail(ticket["id"])
    assert detail["reporter"]["phone"] is None
    assert detail["transcript"][-1]["phone"] == "+84987000111"


def test_an_idempotency_key_of_another_account_answers_a_conflict_not_its_ticket(
    api: Api,
) -> None:
    body = intake_body()
    assert api.intake(body, key="shared-key-0001", who="bot").status_code == 201
    replay = api.intake(body, key="shared-key-0001", who="partner")
    assert replay.status_code == 409
    assert "reference_code" not in replay.json()


def test_every_service_action_is_audited(api: Api) -> None:
    ticket = api.new_ticket(who="bot")
    code = ticket["reference_code"]
    api.get("bot", f"/api/v1/tickets/by-reference/{code}")
    api.post("bot", f"/api/v1/tickets/by-reference/{code}/messages", json={"text": "thêm"})
    api.post("bot", "/api/v1/reporters/open-tickets", json={"phone": "+84912345678"})
    reply = _reply(api, ticket["id"])
    api.post("bot", "/api/v1/outbound/replies/claim")
    api.post("bot", f"/api/v1/outbound/replies/{reply}/result", json={"state": "delivered"})
    api.get("partner", f"/api/v1/tickets/by-reference/{code}")  # refused: not its ticket
    api.post("partner", "/api/v1/outbound/replies/claim")  # refused: not its role
    actions = {(r["actor"], r["action"]) for r in api.audit()}
    for expected in [
        ("bot", "intake"),
        ("bot", "status_lookup"),
        ("bot", "message"),
        ("bot", "reporter_lookup"),
        ("bot", "deliver"),
        ("bot", "delivery_result"),
        ("partner", "denied"),
        ("partner", "forbidden"),
    ]:
        assert expected in actions, expected
