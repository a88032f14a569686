from __future__ import annotations

from tests.intake_api.conftest import Api, intake_body


def _move(api: Api, who: str, ticket_id: str, status: str) -> int:
    return api.patch(who, f"/api/v1/tickets/{ticket_id}", json={"status": status}).status_code


def test_agency_scoping_hides_other_agencies_tickets_with_404(api: Api) -> None:
    police_only = api.new_ticket(agencies=["police"])
    dolisa_only = api.new_ticket(category="request_support", agencies=["dolisa"], priority="P3")
    response = api.get("dolisa", f"/api/v1/tickets/{police_only['id']}")
    assert response.status_code == 404
    assert api.get("dolisa", "/api/v1/tickets/does-not-exist").status_code == 404
    listed = [t["id"] for t in api.get("dolisa", "/api/v1/tickets").json()["items"]]
    assert listed == [dolisa_only["id"]]
    assert api.get("police", f"/api/v1/tickets/{police_only['id']}").status_code == 200
    # A police user at another agency (border guard) sees neither.
    assert api.get("border", "/api/v1/tickets").json()["total"] == 0
    assert api.get("operator", "/api/v1/tickets").json()["total"] == 2


def test_admin_without_working_role_sees_no_ticket_contents(api: Api) -> None:
    ticket = api.new_ticket()
    assert api.get("admin", f"/api/v1/tickets/{ticket['id']}").status_code == 403
    assert api.get("admin", "/api/v1/tickets").status_code == 403


def test_queue_is_ordered_by_priority_then_due_time_and_filterable(api: Api) -> None:
    p3 = api.new_ticket(priority="P3", province="Hà Nội")
    p1 = api.new_ticket(priority="P1", category="request_rescue", agencies=["police", "dolisa"])
    p2 = api.new_ticket(priority="P2", channel="sms", province="Hà Nội")
    page = api.get("operator", "/api/v1/tickets").json()
    assert [t["id"] for t in page["items"]] == [p1["id"], p2["id"], p3["id"]]
    by_province = api.get("operator", "/api/v1/tickets", params={"province": "Hà Nội"}).json()
    assert {t["id"] for t in by_province["items"]} == {p2["id"], p3["id"]}
    by_channel = api.get("operator", "/api/v1/tickets", params={"channel": "sms"}).json()
    assert [t["id"] for t in by_channel["items"]] == [p2["id"]]
    by_priority = api.get(
        "operator", "/api/v1/tickets", params=[("priority", "P1"), ("priority", "P3")]
    ).json()
    assert {t["id"] for t in by_priority["items"]} == {p1["id"], p3["id"]}
    by_agency = api.get("operator", "/api/v1/tickets", params={"agency": "dolisa"}).json()
    assert [t["id"] for t in by_agency["items"]] == [p1["id"]]
    by_code = api.get("operator", "/api/v1/tickets", params={"q": p2["reference_code"].lower()})
    assert [t["id"] for t in by_code.json()["items"]] == [p2["id"]]
    paged = api.get("operator", "/api/v1/tickets", params={"page": 2, "page_size": 2}).json()
    assert paged["total"] == 3 and [t["id"] for t in paged["items"]] == [p3["id"]]
    future = api.get("operator", "/api/v1/tickets", params={"created_from": "2999-01-01"}).json()
    assert future["total"] == 0


def test_status_moves_follow_the_lifecycle_and_illegal_ones_are_409(api: Api) -> None:
    ticket = api.new_ticket()
    tid = ticket["id"]
    illegal = api.patch("police", f"/api/v1/tickets/{tid}", json={"status": "resolved"})
    assert illegal.status_code == 409
    assert "cannot move from 'new' to 'resolved'" in illegal.json()["detail"]
    for status in ("acknowledged", "in_progress", "resolved"):
        assert _move(api, "police", tid, status) == 200
    assert _move(api, "police", tid, "referred") == 409
    assert _move(api, "police", tid, "in_progress") == 200  # reopened
    detail = api.get("operator", f"/api/v1/tickets/{tid}").json()
    moves = [(e["from_value"], e["to_value"]) for e in detail["events"] if e["kind"] == "status"]
    assert moves == [
        ("new", "acknowledged"),
        ("acknowledged", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "in_progress"),
    ]
    assert all(e["actor"] == "police" for e in detail["events"] if e["kind"] == "status")
    assert detail["first_response_at"] is not None and detail["closed_at"] is None


def test_stale_version_is_a_conflict_and_changes_nothing(api: Api) -> None:
    tid = api.new_ticket()["id"]
    version = api.get("operator", f"/api/v1/tickets/{tid}").json()["version"]
    assert (
        api.patch(
            "operator",
            f"/api/v1/tickets/{tid}",
            json={"status": "acknowledged", "version": version},
        ).status_code
        == 200
    )
    stale = api.patch(
        "operator", f"/api/v1/tickets/{tid}", json={"priority": "P1", "version": version}
    )
    assert stale.status_code == 409
    assert api.get("operator", f"/api/v1/tickets/{tid}").json()["priority"] == "P2"


def test_priority_change_recomputes_due_time_and_assignee_is_set(api: Api) -> None:
    tid = api.new_ticket(priority="P3")["id"]
    response = api.patch(
        "operator", f"/api/v1/tickets/{tid}", json={"priority": "P1", "assignee": "police"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["priority"] == "P1" and body["assignee"] == "police"
    from datetime import datetime, timedelta

    assert datetime.fromisoformat(body["due_at"]) - datetime.fromisoformat(
        body["created_at"]
    ) == timedelta(hours=1)
    unknown = api.patch("operator", f"/api/v1/tickets/{tid}", json={"assignee": "nobody"})
    assert unknown.status_code == 422 and "nobody" in unknown.json()["detail"]
    # Police work tickets but do not re-triage them.
    assert api.patch("police", f"/api/v1/tickets/{tid}", json={"priority": "P3"}).status_code == 403


def test_notes_are_kept_with_author(api: Api) -> None:
    tid = api.new_ticket()["id"]
    note = api.post(
        "police", f"/api/v1/tickets/{tid}/notes", json={"text": "Đã liên hệ công an xã"}
    )
    assert note.status_code == 201
    detail = api.get("police", f"/api/v1/tickets/{tid}").json()
    assert [(n["author"], n["text"]) for n in detail["notes"]] == [
        ("police", "Đã liên hệ công an xã")
    ]


def test_referral_is_accepted_by_the_receiving_agency(api: Api) -> None:
    tid = api.new_ticket(agencies=["police"])["id"]
    assert _move(api, "police", tid, "acknowledged") == 200
    made = api.post(
        "police",
        f"/api/v1/tickets/{tid}/referrals",
        json={"to_agency": "dolisa", "reason": "Nạn nhân cần nơi tạm trú"},
    )
    assert made.status_code == 201, made.text
    referral = made.json()
    assert referral["state"] == "pending" and referral["from_agency"] == "police"
    # The receiving agency can see the ticket while the referral is pending.
    assert api.get("dolisa", f"/api/v1/tickets/{tid}").json()["status"] == "referred"
    assert _move(api, "police", tid, "in_progress") == 409
    # Only the receiving agency decides.
    assert (
        api.post("police", f"/api/v1/tickets/{tid}/referrals/{referral['id']}/accept").status_code
        == 403
    )
    accepted = api.post(
        "dolisa",
        f"/api/v1/tickets/{tid}/referrals/{referral['id']}/accept",
        json={"note": "Nhận hồ sơ"},
    )
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    detail = api.get("dolisa", f"/api/v1/tickets/{tid}").json()
    assert detail["status"] == "acknowledged" and detail["agencies"] == ["dolisa", "police"]
    again = api.post("dolisa", f"/api/v1/tickets/{tid}/referrals/{referral['id']}/return")
    assert again.status_code == 409


def test_returned_referral_restores_status_and_hides_ticket_again(api: Api) -> None:
    tid = api.new_ticket(agencies=["police"])["id"]
    rid = api.refer(tid, "dolisa", "Xem xét hỗ trợ")
    returned = api.post(
        "dolisa",
        f"/api/v1/tickets/{tid}/referrals/{rid}/return",
        json={"note": "Không thuộc thẩm quyền"},
    )
    assert returned.status_code == 200 and returned.json()["state"] == "returned"
    assert api.get("dolisa", f"/api/v1/tickets/{tid}").status_code == 404
    assert api.get("police", f"/api/v1/tickets/{tid}").json()["status"] == "new"
    assert api.post("dolisa", f"/api/v1/tickets/{tid}/referrals/999/accept").status_code == 404


def test_a_decision_after_a_colleagues_return_is_told_the_referral_was_returned(
    api: Api,
) -> None:
    # Two DOLISA officers on one referral: one returns it, the other accepts a moment later.
    # The ticket is out of DOLISA's sight by then, but the answer names the referral's fate
    # (409), not "no such ticket"; to any other agency the ticket stays unknown (404).
    tid = api.new_ticket(agencies=["police"])["id"]
    rid = api.refer(tid, "dolisa", "Xem xét hỗ trợ")
    assert api.post("dolisa", f"/api/v1/tickets/{tid}/referrals/{rid}/return").status_code == 200
    late = api.post("dolisa", f"/api/v1/tickets/{tid}/referrals/{rid}/accept")
    assert late.status_code == 409 and late.json()["detail"] == "The referral was already returned."
    assert api.get("dolisa", f"/api/v1/tickets/{tid}").status_code == 404
    stranger = api.post("border", f"/api/v1/tickets/{tid}/referrals/{rid}/accept")
    assert stranger.status_code == 404 and "returned" not in stranger.text
    assert api.get("police", f"/api/v1/tickets/{tid}").json()["status"] == "new"


def test_reply_is_queued_leased_to_the_bot_and_its_delivery_shown(api: Api) -> None:
    tid = api.new_ticket()["id"]
    reply = api.post(
        "police",
        f"/api/v1/tickets/{tid}/replies",
        json={"text": "Chúng tôi đã nhận tin, cảm ơn bạn."},
    )
    assert reply.status_code == 201 and reply.json()["state"] == "queued"
    claimed = api.post("bot", "/api/v1/outbound/replies/claim").json()
    assert [(c["channel"], c["channel_user_id"]) for c in claimed] == [("telegram", "tg-555001")]
    # Leased: a second bot process does not get it again.
    assert api.post("bot", "/api/v1/outbound/replies/claim").json() == []
    rid = claimed[0]["id"]
    done = api.post("bot", f"/api/v1/outbound/replies/{rid}/result", json={"state": "delivered"})
    assert done.status_code == 200 and done.json()["state"] == "delivered"
    detail = api.get("police", f"/api/v1/tickets/{tid}").json()
    assert detail["replies"][0]["state"] == "delivered"
    assert detail["first_response_at"] is not None


def test_failed_reply_can_be_retried_by_staff(api: Api) -> None:
    tid = api.new_ticket()["id"]
    api.post("police", f"/api/v1/tickets/{tid}/replies", json={"text": "Xin chào"})
    rid = api.post("bot", "/api/v1/outbound/replies/claim").json()[0]["id"]
    failed = api.post(
        "bot",
        f"/api/v1/outbound/replies/{rid}/result",
        json={"state": "failed", "error": "user blocked the bot"},
    )
    assert failed.json()["state"] == "failed"
    assert api.post("police", f"/api/v1/tickets/{tid}/replies/{rid}/retry").status_code == 200
    assert [c["id"] for c in api.post("bot", "/api/v1/outbound/replies/claim").json()] == [rid]


def test_voice_tickets_have_no_channel_to_reply_into(api: Api) -> None:
    tid = api.new_ticket(channel="voice")["id"]
    response = api.post("operator", f"/api/v1/tickets/{tid}/replies", json={"text": "Xin chào"})
    assert response.status_code == 409


def test_every_read_of_personal_data_is_audited_and_shown_to_supervisors(api: Api) -> None:
    tid = api.new_ticket()["id"]
    api.get("police", f"/api/v1/tickets/{tid}")
    audit = api.get("supervisor", "/api/v1/audit", params={"ticket_id": tid}).json()
    views = [r for r in audit["items"] if r["action"] == "view"]
    assert [r["actor"] for r in views] == ["police"]
    assert api.get("operator", "/api/v1/audit").status_code == 403
    summary = api.get("police", "/api/v1/tickets").json()["items"][0]
    assert "reporter" not in summary and "transcript" not in summary


def test_intake_example_round_trip_for_a_rescue(api: Api) -> None:
    body = intake_body(
        priority="P1",
        category="request_rescue",
        agencies=["police", "dolisa"],
        text="cứu em với, em bị nhốt ở Campuchia, họ thu hộ chiếu",
    )
    created = api.intake(body).json()
    queue = api.get("police", "/api/v1/tickets", params={"status": "new"}).json()
    assert queue["items"][0]["id"] == created["id"]
    assert queue["items"][0]["priority"] == "P1"
