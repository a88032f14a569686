"""The ticket page: what it shows, and each button doing what the API's route does, with the
same refusals (illegal moves, stale edits, bad input) and nothing changed when refused."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import Session, func, select

from intake_api.models import AuditRecord, Note, Reply
from tests.intake_api.conftest import intake_body
from tests.intake_api.console.conftest import Console, csrf_of, failed_reply, refer
from tests.intake_api.console.test_roles import options


def ticket_json(console: Console, ticket_id: str) -> dict[str, Any]:
    return console.api.get("operator", f"/api/v1/tickets/{ticket_id}").json()


def act(console: Console, browser: Any, ticket_id: str, action: str, **data: str) -> str:
    """Posts a form of the ticket page; returns where the browser is sent."""
    page = browser.get(f"/console/tickets/{ticket_id}").text
    response = browser.post(
        f"/console/tickets/{ticket_id}/{action}",
        data={"csrf": csrf_of(page), **data},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def version(console: Console, ticket_id: str) -> str:
    return str(ticket_json(console, ticket_id)["version"])


def test_the_page_shows_the_conversation_understanding_and_history(console: Console) -> None:
    body = intake_body(
        priority="P1",
        category="request_rescue",
        text="cứu em với, em bị nhốt ở Campuchia",
        transcript=[
            {"direction": "in", "text": "cứu em với, em bị nhốt ở Campuchia"},
            {"direction": "out", "text": "Bạn đang ở đâu? Gọi 113 nếu có thể."},
            {"direction": "in", "text": "em ở Sihanoukville, 17 tuổi"},
        ],
        nlu={
            "text": "cứu em với, em bị nhốt ở Campuchia",
            "intent": {"name": "request_rescue", "confidence": 0.97},
            "entities": [
                {"entity": "country", "value": "Campuchia", "text": "Campuchia"},
                {"entity": "age", "value": 17, "text": "17 tuổi"},
                "not an entity",
            ],
        },
    )
    body["triage"]["reasons"] = [
        "rescue requested",
        "child under 16 at risk",
        "concrete case: age, country",
        "a reason worded later",
    ]
    created = console.api.intake(body)
    assert created.status_code == 201, created.text
    ticket = created.json()
    operator = console.sign_in("operator")
    act(console, operator, ticket["id"], "replies", text="Chúng tôi đang liên hệ công an.")
    html = operator.get(f"/console/tickets/{ticket['id']}").text

    chat = re.findall(r'<li class="msg msg-(\w+)', html)
    assert chat == ["reporter", "bot", "reporter", "staff"]
    assert "Người báo tin" in html and "Trợ lý tự động" in html and "Cán bộ (operator)" in html
    assert "Đang chờ gửi" in html  # the reply's delivery state
    assert "Quốc gia</td><td>Campuchia" in html and "Tuổi</td><td>17" in html
    # The triage's reasons, in Vietnamese where the console knows the bot's wording.
    assert "Người viết xin giải cứu" in html and "Trẻ em dưới 16 tuổi gặp nguy hiểm" in html
    assert "Vụ việc cụ thể: tuổi, quốc gia" in html and "a reason worded later" in html
    assert "Yêu cầu giải cứu" in html and "97%" in html
    # Personal data for the staff who work it...
    assert "Nguyễn Thị Lan" in html and "+84912345678" in html
    # ...and the events of its life.
    assert "Tạo tin báo" in html and "Gửi trả lời cho người báo tin" in html


def test_every_view_of_the_page_is_in_the_audit_trail(console: Console) -> None:
    ticket = console.api.new_ticket()
    operator = console.sign_in("operator")

    def views() -> int:
        with Session(console.api.engine) as session:
            return int(
                session.exec(
                    select(func.count())
                    .select_from(AuditRecord)
                    .where(
                        AuditRecord.ticket_id == ticket["id"],
                        AuditRecord.action == "view",
                        AuditRecord.actor == "operator",
                    )
                ).one()
            )

    operator.get(f"/console/tickets/{ticket['id']}")
    operator.get(f"/console/tickets/{ticket['id']}")
    assert views() == 2
    # The delivery-state refresh carries no personal data and is not a view.
    operator.get(f"/console/tickets/{ticket['id']}/replies", headers={"Accept": "application/json"})
    operator.get("/console")
    assert views() == 2


def test_claim_takes_the_ticket_and_acknowledges_a_new_one(console: Console) -> None:
    ticket = console.api.new_ticket()
    police = console.sign_in("police")
    assert "ok=claimed" in act(console, police, ticket["id"], "claim", version="1")
    after = ticket_json(console, ticket["id"])
    assert after["assignee"] == "police" and after["status"] == "acknowledged"
    assert after["first_response_at"] is not None
    assert 'id="claim"' not in police.get(f"/console/tickets/{ticket['id']}").text


def test_only_the_legal_moves_are_offered_and_others_are_refused(console: Console) -> None:
    ticket = console.api.new_ticket()
    operator = console.sign_in("operator")
    page = operator.get(f"/console/tickets/{ticket['id']}").text
    # From `new`: acknowledge or close as unfounded; duplicate has its own form with the link.
    assert options(page, "status-to") == ["acknowledged", "unfounded"]
    assert 'id="original"' in page
    where = act(console, operator, ticket["id"], "status", status="resolved", version="1")
    assert "err=illegal_move" in where
    where = act(console, operator, ticket["id"], "status", status="referred", version="1")
    assert "err=illegal_move" in where
    assert ticket_json(console, ticket["id"])["status"] == "new"
    for target, offered in [
        ("acknowledged", ["in_progress", "unfounded"]),
        ("in_progress", ["resolved", "unfounded"]),
        ("resolved", ["in_progress"]),
    ]:
        where = act(
            console, operator, ticket["id"], "status", status=target,
            version=version(console, ticket["id"]),
        )  # fmt: skip
        assert "ok=status" in where
        page = operator.get(f"/console/tickets/{ticket['id']}").text
        assert options(page, "status-to") == offered, target


def test_an_edit_made_on_a_stale_page_is_refused(console: Console) -> None:
    ticket = console.api.new_ticket()
    operator = console.sign_in("operator")
    page = operator.get(f"/console/tickets/{ticket['id']}").text
    # Someone else acknowledges it meanwhile, through the API.
    moved = console.api.patch(
        "supervisor", f"/api/v1/tickets/{ticket['id']}", json={"status": "acknowledged"}
    )
    assert moved.status_code == 200
    stale = operator.post(
        f"/console/tickets/{ticket['id']}/status",
        data={"csrf": csrf_of(page), "status": "unfounded", "version": "1"},
        follow_redirects=False,
    )
    assert "err=conflict" in stale.headers["location"]
    assert ticket_json(console, ticket["id"])["status"] == "acknowledged"
    shown = operator.get(stale.headers["location"]).text
    assert "vừa được thay đổi" in shown


def test_priority_change_moves_the_deadline(console: Console) -> None:
    ticket = console.api.new_ticket(priority="P3")
    operator = console.sign_in("operator")
    before = ticket_json(console, ticket["id"])["due_at"]
    assert "ok=priority" in act(console, operator, ticket["id"], "priority", priority="P1")
    after = ticket_json(console, ticket["id"])
    assert after["priority"] == "P1" and after["due_at"] < before
    assert "err=invalid" in act(console, operator, ticket["id"], "priority", priority="P9")


def test_refer_then_the_receiving_agency_accepts(console: Console) -> None:
    ticket = console.api.new_ticket(agencies=["police"])
    operator = console.sign_in("operator")
    page = operator.get(f"/console/tickets/{ticket['id']}").text
    assert "police" not in options(page, "refer-to")  # already routed there
    where = act(
        console, operator, ticket["id"], "referrals", to_agency="dolisa",
        reason="Nạn nhân cần nơi ở tạm.",
    )  # fmt: skip
    assert "ok=referred" in where
    assert ticket_json(console, ticket["id"])["status"] == "referred"
    page = operator.get(f"/console/tickets/{ticket['id']}").text
    assert 'id="refer-to"' not in page and 'id="status-to"' not in page  # waiting for DOLISA
    referral = ticket_json(console, ticket["id"])["referrals"][0]["id"]
    dolisa = console.sign_in("dolisa")
    where = act(
        console, dolisa, ticket["id"], f"referrals/{referral}/accept", note="Đã nhận, sẽ gọi lại."
    )
    assert "ok=accepted" in where
    after = ticket_json(console, ticket["id"])
    assert after["status"] == "new" and after["agencies"] == ["dolisa", "police"]
    assert after["referrals"][0]["decision_note"] == "Đã nhận, sẽ gọi lại."
    # A decided referral cannot be decided again.
    again = act(console, dolisa, ticket["id"], f"referrals/{referral}/return")
    assert "err=conflict" in again


def test_a_returned_referral_leaves_the_agency_out(console: Console) -> None:
    ticket = console.api.new_ticket(agencies=["police"])
    referral = refer(console.api, ticket["id"], "dolisa")
    dolisa = console.sign_in("dolisa")
    assert "ok=returned" in act(console, dolisa, ticket["id"], f"referrals/{referral}/return")
    assert ticket_json(console, ticket["id"])["agencies"] == ["police"]
    # DOLISA no longer sees it.
    assert dolisa.get(f"/console/tickets/{ticket['id']}").status_code == 404


def test_bad_referral_input_is_refused_and_nothing_is_stored(console: Console) -> None:
    ticket = console.api.new_ticket(agencies=["police"])
    operator = console.sign_in("operator")
    for data in (
        {"to_agency": "dolisa", "reason": ""},
        {"to_agency": "nowhere", "reason": "lý do"},
        {"to_agency": "dolisa", "reason": "x" * 9000},
        {"to_agency": "dolisa", "reason": "có ký tự \x00 lạ"},
    ):
        where = act(console, operator, ticket["id"], "referrals", **data)
        assert "err=invalid" in where, data
    after = ticket_json(console, ticket["id"])
    assert after["referrals"] == [] and after["status"] == "new"
    assert act(console, operator, ticket["id"], "referrals/abc/accept").endswith(
        "err=no_referral#referrals"
    )


def test_mark_as_duplicate_records_the_original_in_a_note(console: Console) -> None:
    original = console.api.new_ticket()
    copy = console.api.new_ticket()
    operator = console.sign_in("operator")
    code = original["reference_code"]
    # Typed the way people type it: lower case, no dash.
    where = act(
        console, operator, copy["id"], "duplicate", original=code.lower().replace("-", " "),
        version="1",
    )  # fmt: skip
    assert "ok=duplicate" in where
    after = ticket_json(console, copy["id"])
    assert after["status"] == "duplicate"
    assert [n["text"] for n in after["notes"]] == [f"Trùng lặp với tin báo {code}."]
    assert ticket_json(console, original["id"])["status"] == "new"


def test_duplicate_of_itself_of_nothing_or_of_a_hidden_ticket_is_refused(
    console: Console,
) -> None:
    api = console.api
    mine = api.new_ticket(agencies=["police"])
    hidden = api.new_ticket(agencies=["dolisa"], category="request_support")
    police = console.sign_in("police")
    for given, error in [
        (mine["reference_code"], "same_ticket"),
        ("TIP-ZZZZZ", "no_original"),
        (hidden["reference_code"], "no_original"),  # exists, but not for the police
        ("'; drop table tickets; --", "no_original"),
    ]:
        where = act(console, police, mine["id"], "duplicate", original=given, version="1")
        assert f"err={error}" in where, given
    after = ticket_json(console, mine["id"])
    assert after["status"] == "new" and after["notes"] == []


def test_a_reply_is_queued_and_its_delivery_state_followed(console: Console) -> None:
    api = console.api
    ticket = api.new_ticket()
    operator = console.sign_in("operator")
    assert "ok=replied" in act(console, operator, ticket["id"], "replies", text="Xin chào bạn")
    url = f"/console/tickets/{ticket['id']}/replies"
    states = operator.get(url, headers={"Accept": "application/json"}).json()["replies"]
    (reply_id,) = states
    assert "Đang chờ gửi" in states[reply_id]
    assert "Xin chào bạn" not in states[reply_id]  # states only, no text
    claimed = api.post("bot", "/api/v1/outbound/replies/claim").json()
    assert [r["id"] for r in claimed] == [int(reply_id)]
    api.post("bot", f"/api/v1/outbound/replies/{reply_id}/result", json={"state": "delivered"})
    states = operator.get(url, headers={"Accept": "application/json"}).json()["replies"]
    assert "Đã tới người báo tin" in states[reply_id]


def test_a_failed_reply_is_flagged_and_can_be_sent_again(console: Console) -> None:
    ticket = console.api.new_ticket()
    reply_id = failed_reply(console.api, ticket["id"])
    operator = console.sign_in("operator")
    page = operator.get(f"/console/tickets/{ticket['id']}").text
    assert "Có trả lời không gửi được" in page and "Không gửi được" in page
    assert f"/replies/{reply_id}/retry" in page
    assert "ok=retried" in act(console, operator, ticket["id"], f"replies/{reply_id}/retry")
    with Session(console.api.engine) as session:
        assert session.get(Reply, reply_id).state == "queued"  # type: ignore[union-attr]
    again = act(console, operator, ticket["id"], f"replies/{reply_id}/retry")
    assert "err=conflict" in again
    assert "err=no_reply" in act(console, operator, ticket["id"], "replies/999999/retry")


def test_a_call_has_no_chat_to_reply_into(console: Console) -> None:
    ticket = console.api.new_ticket(channel="voice")
    operator = console.sign_in("operator")
    page = operator.get(f"/console/tickets/{ticket['id']}").text
    assert 'id="reply-text"' not in page
    where = act(console, operator, ticket["id"], "replies", text="Xin chào")
    assert "err=reply_impossible" in where
    with Session(console.api.engine) as session:
        assert session.exec(select(func.count()).select_from(Reply)).one() == 0


def test_notes_are_added_and_empty_ones_refused(console: Console) -> None:
    ticket = console.api.new_ticket()
    operator = console.sign_in("operator")
    assert "ok=noted" in act(console, operator, ticket["id"], "notes", text="Đã gọi cho gia đình.")
    assert "err=invalid" in act(console, operator, ticket["id"], "notes", text="   ")
    with Session(console.api.engine) as session:
        texts = [n.text for n in session.exec(select(Note)).all()]
    assert texts == ["Đã gọi cho gia đình."]
    page = operator.get(f"/console/tickets/{ticket['id']}").text
    assert "Đã gọi cho gia đình." in page


def test_text_staff_wrote_is_shown_as_text_never_as_markup(console: Console) -> None:
    ticket = console.api.new_ticket()
    operator = console.sign_in("operator")
    act(console, operator, ticket["id"], "notes", text='<script>alert("x")</script>')
    page = operator.get(f"/console/tickets/{ticket['id']}").text
    assert '<script>alert("x")</script>' not in page
    assert "&lt;script&gt;" in page


def test_a_malformed_ticket_address_is_the_404_page(console: Console) -> None:
    operator = console.sign_in("operator")
    for address in ("x" * 65, "abc%00def", "a.b", "%E2%80%8B"):
        response = operator.get(f"/console/tickets/{address}")
        assert response.status_code == 404, address
        assert "Không tìm thấy tin báo" in response.text


def test_two_officers_claiming_at_once_one_wins_and_the_other_is_told(
    console: Console,
) -> None:
    ticket = console.api.new_ticket()
    first, second = console.sign_in("operator"), console.sign_in("supervisor")
    pages = [b.get(f"/console/tickets/{ticket['id']}").text for b in (first, second)]
    results = [
        b.post(
            f"/console/tickets/{ticket['id']}/claim",
            data={"csrf": csrf_of(page), "version": "1"},
            follow_redirects=False,
        ).headers["location"]
        for b, page in zip((first, second), pages, strict=True)
    ]
    assert "ok=claimed" in results[0] and "err=conflict" in results[1]
    after = ticket_json(console, ticket["id"])
    assert after["assignee"] == "operator"
    # One claim, one set of events: a double click or a replayed form changes nothing more.
    assert [e["kind"] for e in after["events"]].count("assignee") == 1
