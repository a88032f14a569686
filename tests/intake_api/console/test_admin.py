"""Accounts in the browser: an admin creates staff, sets roles, agency and passwords; bad
input is refused with the reason and changes nothing."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import Session, func, select

from intake_api.models import AuditRecord, User
from tests.intake_api.conftest import PASSWORD
from tests.intake_api.console.conftest import Console, csrf_of


def submit(console: Console, admin: Any, action: str, **data: Any) -> Any:
    page = admin.get("/console/admin").text
    return admin.post(
        f"/console/admin{action}", data={"csrf": csrf_of(page), **data}, follow_redirects=False
    )


def user(console: Console, username: str) -> User | None:
    with Session(console.api.engine) as session:
        return session.exec(select(User).where(User.username == username)).first()


def users(console: Console) -> int:
    with Session(console.api.engine) as session:
        return int(session.exec(select(func.count()).select_from(User)).one())


def test_an_admin_creates_an_operator_who_can_then_sign_in(console: Console) -> None:
    admin = console.sign_in("admin")
    created = submit(
        console, admin, "/users", username="lan.nguyen", full_name="Nguyễn Thị Lan",
        password="mat-khau-du-dai", roles=["operator"],
    )  # fmt: skip
    assert created.status_code == 303 and "ok=created" in created.headers["location"]
    made = user(console, "lan.nguyen")
    assert made is not None and made.roles == "operator" and made.full_name == "Nguyễn Thị Lan"
    lan = console.sign_in("lan.nguyen", "mat-khau-du-dai")
    assert lan.get("/console").status_code == 200
    with Session(console.api.engine) as session:
        audit = session.exec(select(AuditRecord).where(AuditRecord.action == "user_created")).one()
    assert audit.actor == "admin" and audit.detail == "lan.nguyen (operator)"


def test_a_random_password_is_shown_once_and_never_put_in_a_url(console: Console) -> None:
    admin = console.sign_in("admin")
    response = submit(
        console, admin, "/users", username="minh.le", random="1", roles=["police"],
        agency="border_guard",
    )  # fmt: skip
    assert response.status_code == 200
    password = re.search(r'<code id="one-time-password">([^<]+)</code>', response.text)
    assert password is not None
    made = user(console, "minh.le")
    assert made is not None and made.agency == "border_guard"
    assert console.submit_login(console.browser(), "minh.le", password.group(1)).status_code == 303
    assert password.group(1) not in admin.get("/console/admin").text


def test_bad_accounts_are_refused_with_the_reason(console: Console) -> None:
    admin = console.sign_in("admin")
    before = users(console)
    cases = [
        ({"username": "operator", "password": "long-enough-pass", "roles": ["operator"]},
         "Đã có tài khoản"),
        ({"username": "new.one", "password": "short", "roles": ["operator"]}, "12 đến 256"),
        ({"username": "Bad Name!", "password": "long-enough-pass", "roles": ["operator"]},
         "Tên đăng nhập gồm"),
        ({"username": "new.one", "password": "long-enough-pass"}, "ít nhất một vai trò"),
        ({"username": "new.one", "password": "long-enough-pass", "roles": ["service"]},
         "ít nhất một vai trò"),  # service accounts are not made in the browser
        ({"username": "new.one", "password": "long-enough-pass", "roles": ["police"],
          "agency": "secret_service"}, "Cơ quan không có"),
    ]  # fmt: skip
    for data, reason in cases:
        response = submit(console, admin, "/users", **data)
        assert response.status_code == 422, data
        assert reason in response.text, data
        assert data.get("password", "") not in response.text or data["password"] == "short"
    assert users(console) == before


def test_roles_and_agency_change_what_the_person_sees_at_once(console: Console) -> None:
    dolisa_ticket = console.api.new_ticket(agencies=["dolisa"], category="request_support")
    police = console.sign_in("police")
    assert police.get(f"/console/tickets/{dolisa_ticket['id']}").status_code == 404
    admin = console.sign_in("admin")
    response = submit(console, admin, "/users/police/roles", roles=["dolisa"], agency="dolisa")
    assert response.status_code == 303 and "ok=updated" in response.headers["location"]
    changed = user(console, "police")
    assert changed is not None and changed.roles == "dolisa" and changed.agency == "dolisa"
    # The same signed-in session now works as DOLISA.
    assert police.get(f"/console/tickets/{dolisa_ticket['id']}").status_code == 200
    refused = submit(console, admin, "/users/police/roles", roles=["police"], agency="nowhere")
    assert refused.status_code == 422 and user(console, "police").agency == "dolisa"  # type: ignore[union-attr]
    missing = submit(console, admin, "/users/nobody/roles", roles=["police"])
    assert missing.status_code == 422 and "Không có tài khoản" in missing.text


def test_an_admin_cannot_remove_their_own_admin_role(console: Console) -> None:
    admin = console.sign_in("admin")
    response = submit(console, admin, "/users/admin/roles", roles=["operator"])
    assert response.status_code == 422
    assert "chính mình" in response.text
    assert user(console, "admin").roles == "admin"  # type: ignore[union-attr]
    both = submit(console, admin, "/users/admin/roles", roles=["admin", "supervisor"])
    assert both.status_code == 303
    assert user(console, "admin").roles == "admin,supervisor"  # type: ignore[union-attr]


def test_a_reset_password_replaces_the_old_one(console: Console) -> None:
    admin = console.sign_in("admin")
    short = submit(console, admin, "/users/dolisa/password", password="short")
    assert short.status_code == 422
    done = submit(console, admin, "/users/dolisa/password", password="mot-mat-khau-moi")
    assert done.status_code == 303 and "ok=password" in done.headers["location"]
    assert console.submit_login(console.browser(), "dolisa", PASSWORD).status_code == 401
    assert console.submit_login(console.browser(), "dolisa", "mot-mat-khau-moi").status_code == 303
    shown = submit(console, admin, "/users/dolisa/password", random="1")
    new = re.search(r'<code id="one-time-password">([^<]+)</code>', shown.text)
    assert new is not None
    assert console.submit_login(console.browser(), "dolisa", new.group(1)).status_code == 303


def test_the_agencies_in_force_are_listed(console: Console) -> None:
    html = console.sign_in("admin").get("/console/admin").text
    settings = console.api.client.app.state.hotline.settings
    for agency in settings.agencies:
        assert f"<td><code>{agency.code}</code></td><td>{agency.name}</td>" in html
