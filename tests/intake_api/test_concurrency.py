"""Concurrent writes, with real threads on SQLite and PostgreSQL: additions never conflict,
repeated reports are idempotent, a claim is atomic, and every conflict is a 409 with a
sentence a person can act on (docs/api.md, Errors)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

from tests.intake_api.conftest import Api


def _together(count: int, call: Any) -> list[Any]:
    """`call(i)` from `count` threads released at the same moment."""
    start = Barrier(count)

    def run(i: int) -> Any:
        start.wait()
        return call(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_twenty_concurrent_notes_on_one_ticket_are_all_kept(api: Api) -> None:
    tid = api.new_ticket()["id"]
    answers = _together(
        20,
        lambda i: api.post(
            "police" if i % 2 else "operator",
            f"/api/v1/tickets/{tid}/notes",
            json={"text": f"ghi chú số {i}"},
        ),
    )
    assert [r.status_code for r in answers] == [201] * 20, [r.text for r in answers]
    notes = api.detail(tid)["notes"]
    assert sorted(n["text"] for n in notes) == sorted(f"ghi chú số {i}" for i in range(20))


def test_notes_and_replies_never_conflict_with_an_edit(api: Api) -> None:
    tid = api.new_ticket()["id"]
    version = api.detail(tid)["version"]
    api.post("police", f"/api/v1/tickets/{tid}/notes", json={"text": "đã gọi xã"})
    api.post("police", f"/api/v1/tickets/{tid}/replies", json={"text": "Chúng tôi đã nhận."})
    # The editor who loaded the ticket before them learns it changed, with what to do.
    stale = api.patch(
        "operator", f"/api/v1/tickets/{tid}", json={"priority": "P1", "version": version}
    )
    assert stale.status_code == 409 and "reload" in stale.json()["detail"]


def test_concurrent_delivery_reports_are_idempotent(api: Api) -> None:
    tid = api.new_ticket()["id"]
    api.post("police", f"/api/v1/tickets/{tid}/replies", json={"text": "Xin chào"})
    rid = api.post("bot", "/api/v1/outbound/replies/claim").json()[0]["id"]
    answers = _together(
        10,
        lambda i: api.post(
            "bot", f"/api/v1/outbound/replies/{rid}/result", json={"state": "delivered"}
        ),
    )
    assert [r.status_code for r in answers] == [200] * 10, [r.text for r in answers]
    assert {r.json()["state"] for r in answers} == {"delivered"}
    detail = api.detail(tid)
    assert detail["replies"][0]["state"] == "delivered"
    assert [e["kind"] for e in detail["events"]].count("reply_delivered") == 1
    # A late failure report of a delivered reply changes nothing.
    late = api.post(
        "bot", f"/api/v1/outbound/replies/{rid}/result", json={"state": "failed", "error": "x"}
    )
    assert late.status_code == 200 and late.json()["state"] == "delivered"


def test_of_two_people_claiming_a_ticket_at_once_exactly_one_gets_it(api: Api) -> None:
    tickets = [api.new_ticket()["id"] for _ in range(20)]
    for tid in tickets:
        first, second = _together(
            2,
            lambda i, tid=tid: api.patch(
                ("operator", "supervisor")[i],
                f"/api/v1/tickets/{tid}",
                json={"assignee": ("operator", "supervisor")[i]},
            ),
        )
        codes = sorted([first.status_code, second.status_code])
        assert codes == [200, 409], (first.text, second.text)
        loser = first if first.status_code == 409 else second
        winner = "supervisor" if loser is first else "operator"
        assert api.detail(tid)["assignee"] == winner
        assert "assigned to" in loser.json()["detail"] or "reload" in loser.json()["detail"]


def test_a_claim_is_refused_while_someone_else_holds_the_ticket(api: Api) -> None:
    tid = api.new_ticket()["id"]
    url = f"/api/v1/tickets/{tid}"
    assert api.patch("operator", url, json={"assignee": "operator"}).status_code == 200
    taken = api.patch("supervisor", url, json={"assignee": "supervisor"})
    assert taken.status_code == 409
    assert "already assigned to 'operator'" in taken.json()["detail"]
    assert "version" in taken.json()["detail"]
    assert api.patch("supervisor", url, json={"assignee": None}).status_code == 409
    # Reassigning with the version one has seen is a deliberate decision, and is done.
    version = api.detail(tid)["version"]
    moved = api.patch("supervisor", url, json={"assignee": "supervisor", "version": version})
    assert moved.status_code == 200 and moved.json()["assignee"] == "supervisor"
    # The holder may hand it on without a version.
    handed = api.patch("supervisor", url, json={"assignee": "police"})
    assert handed.status_code == 200 and handed.json()["assignee"] == "police"


def test_referral_acceptance_works_whatever_happened_to_the_agencies(api: Api) -> None:
    tid = api.new_ticket(agencies=["police"])["id"]
    rid = api.refer(tid, "dolisa", "Nạn nhân cần hỗ trợ")
    both = {"agencies": ["police", "dolisa"]}
    routed = api.patch("operator", f"/api/v1/tickets/{tid}", json=both)
    assert routed.status_code == 200, routed.text
    accepted = api.post("dolisa", f"/api/v1/tickets/{tid}/referrals/{rid}/accept")
    assert accepted.status_code == 200, accepted.text
    detail = api.detail(tid, who="dolisa")
    assert detail["agencies"] == ["dolisa", "police"] and detail["status"] == "new"


def test_concurrent_decisions_on_one_referral_leave_one_decision(api: Api) -> None:
    tid = api.new_ticket(agencies=["police"])["id"]
    rid = api.refer(tid, "dolisa", "Cần nơi tạm trú")
    answers = _together(
        4,
        lambda i: api.post(
            "dolisa", f"/api/v1/tickets/{tid}/referrals/{rid}/{('accept', 'return')[i % 2]}"
        ),
    )
    codes = sorted(r.status_code for r in answers)
    assert codes.count(200) == 1 and codes.count(409) == 3, [r.text for r in answers]
    assert all(r.json()["detail"].endswith(".") for r in answers if r.status_code == 409)
