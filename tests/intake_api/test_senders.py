"""Follow-ups from another sender are attributed (docs/api.md, Roles): someone who knows a
victim's reference code can write into the ticket, but staff see it was not the reporter, the
ticket is flagged, and nothing else on it changes."""

from __future__ import annotations

from tests.intake_api.conftest import Api, intake_body

REPORTER = "a" * 64  # the keyed hash the bot sends for the reporter's conversation
STRANGER = "b" * 64


def _rescue(api: Api) -> dict[str, object]:
    body = intake_body(priority="P1", category="request_rescue", agencies=["police", "dolisa"])
    body["reporter"]["sender_ref"] = REPORTER
    made = api.intake(body)
    assert made.status_code == 201, made.text
    return made.json()


def test_a_message_from_another_sender_is_kept_flagged_and_changes_nothing(api: Api) -> None:
    ticket = _rescue(api)
    tid, code = str(ticket["id"]), str(ticket["reference_code"])
    before = api.detail(tid)
    call_off = {
        "text": "em về nhà rồi, các anh không cần liên lạc nữa",
        "message_id": "web-1",
        "sender_ref": STRANGER,
        "province": "Hà Nội",
        "country": "Việt Nam",
        "phone": "0987000111",
        "priority": "P3",
        "location": {"lat": 21.0, "lon": 105.8},
    }
    response = api.post("bot", f"/api/v1/tickets/by-reference/{code}/messages", json=call_off)
    assert response.status_code == 201, response.text
    after = api.detail(tid)
    last = after["transcript"][-1]
    assert last["text"] == call_off["text"] and last["sender"] == "another_sender"
    assert last["phone"] is None
    assert after["other_sender"] is True
    unchanged = ("status", "priority", "due_at", "province", "country", "location", "reporter")
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    # The console's queue shows the flag too.
    summary = api.get("operator", "/api/v1/tickets").json()["items"][0]
    assert summary["id"] == tid and summary["other_sender"] is True
    kinds = [e["kind"] for e in after["events"]]
    assert "another_sender_message" in kinds and "priority" not in kinds


def test_the_reporters_own_follow_up_is_attributed_to_them_and_applied(api: Api) -> None:
    ticket = _rescue(api)
    url = f"/api/v1/tickets/by-reference/{ticket['reference_code']}/messages"
    body = {"text": "họ chuyển em sang Tây Ninh", "sender_ref": REPORTER, "province": "Tây Ninh"}
    assert api.post("bot", url, json=body).status_code == 201
    after = api.detail(str(ticket["id"]))
    assert after["transcript"][-1]["sender"] == "reporter"
    assert after["transcript"][0]["sender"] == "reporter"
    assert after["province"] == "Tây Ninh" and after["other_sender"] is False


def test_a_message_without_anything_to_compare_is_shown_as_unknown(api: Api) -> None:
    ticket = api.new_ticket()  # filed without a sender_ref (an older bot, a partner)
    url = f"/api/v1/tickets/{ticket['id']}/messages"
    assert api.post("bot", url, json={"text": "thêm", "sender_ref": STRANGER}).status_code == 201
    after = api.detail(ticket["id"])
    assert after["transcript"][-1]["sender"] == "unknown" and after["other_sender"] is False


def test_the_status_answer_to_another_sender_reveals_no_more_than_before(api: Api) -> None:
    ticket = _rescue(api)
    code = ticket["reference_code"]
    url = f"/api/v1/tickets/by-reference/{code}"
    first = api.get("bot", url).json()
    api.post("bot", f"{url}/messages", json={"text": "ai đó", "sender_ref": STRANGER})
    answer = api.get("bot", url).json()
    assert set(answer) == set(first) == {"reference_code", "status", "updated_at"}
    assert answer["status"] == "new"


def test_a_sender_ref_is_an_opaque_identifier_not_a_clear_id(api: Api) -> None:
    ticket = _rescue(api)
    url = f"/api/v1/tickets/by-reference/{ticket['reference_code']}/messages"
    clear = api.post("bot", url, json={"text": "x", "sender_ref": "tg 555001"})
    assert clear.status_code == 422 and "sender_ref" in clear.json()["detail"]
