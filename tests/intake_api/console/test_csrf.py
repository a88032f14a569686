"""Every form of the console refuses a post that does not carry the session's own token: a
page on another site (or another person's page) cannot make a signed-in officer act."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, func, select

from intake_api.console import ROUTERS
from intake_api.models import ApiToken, CallRecord, Note, Referral, Reply, Ticket, User
from intake_api.users import create_user
from tests.intake_api.conftest import PASSWORD
from tests.intake_api.console.conftest import Console, csrf_of, failed_reply, refer


def snapshot(console: Console) -> dict[str, Any]:
    with Session(console.api.engine) as session:
        return {
            "tickets": sorted(
                (t.id, t.version, t.status, t.priority, t.assignee_id)
                for t in session.exec(select(Ticket))
            ),
            "notes": session.exec(select(func.count()).select_from(Note)).one(),
            "replies": sorted((r.id, r.state) for r in session.exec(select(Reply))),
            "referrals": sorted((r.id, r.state) for r in session.exec(select(Referral))),
            "calls": sorted((c.id, c.state, c.attempts) for c in session.exec(select(CallRecord))),
            "users": sorted(
                (u.username, u.roles, u.agency, u.full_name, u.password_hash, u.active)
                for u in session.exec(select(User))
            ),
            "tokens": sorted((t.id, t.revoked) for t in session.exec(select(ApiToken))),
        }


def console_posts() -> list[str]:
    return sorted(
        route.path
        for router in ROUTERS
        for route in router.routes
        if "POST" in (getattr(route, "methods", None) or ())
    )


@pytest.fixture
def scene(console: Console) -> dict[str, Any]:
    api = console.api
    with Session(api.engine) as session:
        create_user(session, "boss", PASSWORD, ["operator", "supervisor", "admin"])
    ticket = api.new_ticket()
    other = api.new_ticket()
    referred = api.new_ticket()
    return {
        "ticket": ticket,
        "other": other,
        "referred": referred,
        "referral": refer(api, referred["id"]),
        "reply": failed_reply(api, ticket["id"]),
        "callback": callback_task(api, ticket),
    }


def callback_task(api: Any, ticket: dict[str, Any]) -> int:
    """A call-back owed on the ticket, as the voice hotline records it."""
    body = {"key": "callback", "kind": "callback", "call_sid": "CA" + "0" * 32, "reason": "missed"}
    url = f"/api/v1/tickets/by-reference/{ticket['reference_code']}/calls"
    assert api.post("bot", url, json=body).status_code == 201
    return int(api.detail(ticket["id"])["calls"][0]["id"])


FORM: dict[str, dict[str, str]] = {
    "claim": {"version": "1"},
    "assign": {"assignee": "operator"},
    "status": {"status": "acknowledged"},
    "priority": {"priority": "P1"},
    "referrals": {"to_agency": "border_guard", "reason": "đường biên giới"},
    "accept": {"note": "nhận"},
    "return": {"note": "trả"},
    "duplicate": {"original": ""},
    "replies": {"text": "Chúng tôi đang xử lý."},
    "retry": {},
    "notes": {"text": "ghi chú"},
    "users": {"username": "new.person", "password": "a-long-enough-pass", "roles": "operator"},
    "roles": {"roles": "supervisor"},
    "password": {"password": "another-long-password"},
    "active": {"active": "0", "revoke": "1"},
    "tokens": {},
    "logout": {},
    "{call_id}": {"outcome": "reached"},
}


def concrete(path: str, scene: dict[str, Any]) -> tuple[str, dict[str, str]]:
    ticket = scene["referred"] if "referral_id" in path else scene["ticket"]
    url = (
        path.replace("{ticket_id}", ticket["id"])
        .replace("{referral_id}", str(scene["referral"]))
        .replace("{reply_id}", str(scene["reply"]))
        .replace("{call_id}", str(scene["callback"]))
        .replace("{username}", "police")
    )
    data = dict(FORM[path.rstrip("/").rsplit("/", 1)[-1]])
    if "original" in data:
        data["original"] = scene["other"]["reference_code"]
    return url, data


def test_every_console_form_is_refused_without_the_session_token(
    console: Console, scene: dict[str, Any]
) -> None:
    posts = [p for p in console_posts() if p not in ("/console/login", "/console/session")]
    # The forms of every page: if a new one is added, it is attacked here too.
    assert len(posts) == 18, posts
    boss = console.sign_in("boss")
    own = csrf_of(boss.get("/console").text)
    stranger = console.sign_in("supervisor")
    strangers_token = csrf_of(stranger.get("/console").text)
    assert strangers_token != own
    before = snapshot(console)
    for path in posts:
        url, data = concrete(path, scene)
        for token in (None, "", "x" * 43, strangers_token, own[:-1]):
            form = dict(data) if token is None else {**data, "csrf": token}
            response = boss.post(url, data=form, follow_redirects=False)
            assert response.status_code == 403, (path, token, response.status_code)
            assert "Biểu mẫu không hợp lệ" in response.text
    assert snapshot(console) == before
    # Still signed in (the forged sign-out did nothing), and the real token works.
    assert boss.get("/console").status_code == 200
    url, data = concrete("/console/tickets/{ticket_id}/notes", scene)
    done = boss.post(url, data={**data, "csrf": own}, follow_redirects=False)
    assert done.status_code == 303
    assert snapshot(console)["notes"] == before["notes"] + 1


def test_every_console_page_sends_security_headers(console: Console, scene: dict[str, Any]) -> None:
    browser = console.sign_in("boss")
    for url in (
        "/console",
        f"/console/tickets/{scene['ticket']['id']}",
        "/console/dashboard",
        "/console/admin",
        "/console/login",
    ):
        response = browser.get(url)
        assert response.status_code == 200, url
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    # The API's own answers are left as they were.
    assert "content-security-policy" not in console.api.client.get("/healthz").headers
