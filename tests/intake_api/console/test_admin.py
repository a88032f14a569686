"""Accounts in the browser: an admin creates staff, sets roles, agency and passwords, disables
accounts and revokes their tokens; bad input is refused with the reason and changes nothing."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import Session, func, select

from intake_api.models import ApiToken, AuditRecord, User
from intake_api.users import create_user
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


def audit_actions(console: Console) -> list[tuple[str, str, str | None]]:
    with Session(console.api.engine) as session:
        rows = session.exec(select(AuditRecord).order_by(AuditRecord.id)).all()
    return [(r.actor, r.action, r.detail) for r in rows]


def signed_out(browser: Any) -> bool:
    """The session no longer opens the console: the page sends the person to sign in."""
    response = browser.get("/console", follow_redirects=False)
    return response.status_code == 303 and "/console/login" in response.headers["location"]


def api_token_works(console: Console, who: str) -> bool:
    """The account's API token still opens what its roles allow (401 once it does not)."""
    url = "/api/v1/users" if who.endswith("admin") else "/api/v1/tickets"
    status = console.api.get(who, url).status_code
    assert status in (200, 401), status
    return status == 200


def test_a_disabled_account_cannot_sign_in_and_its_session_and_tokens_stop_at_once(
    console: Console,
) -> None:
    operator = console.sign_in("operator", through_form=True)
    assert operator.get("/console").status_code == 200 and api_token_works(console, "operator")
    admin = console.sign_in("admin")
    page = admin.get("/console/admin").text
    assert 'action="/console/admin/users/operator/active"' in page
    done = submit(console, admin, "/users/operator/active", active="0")
    assert done.status_code == 303 and "ok=disabled" in done.headers["location"]
    assert user(console, "operator").active is False  # type: ignore[union-attr]
    # The open session ends at its very next request, and the sign-in page says why (not
    # "inactivity"); the API token answers 401.
    ended = operator.get("/console", follow_redirects=False)
    assert ended.status_code == 303 and "ended=1" in ended.headers["location"]
    assert "quản trị viên đã thu hồi" in operator.get(ended.headers["location"]).text
    assert signed_out(operator)
    assert not api_token_works(console, "operator")
    refused = console.submit_login(console.browser(), "operator", PASSWORD)
    assert refused.status_code == 401 and "hotline_console=" not in refused.headers.get(
        "set-cookie", ""
    )
    assert ("admin", "user_disabled", "operator") in audit_actions(console)
    assert "đã khoá" in admin.get("/console/admin").text

    enabled = submit(console, admin, "/users/operator/active", active="1")
    assert enabled.status_code == 303 and "ok=enabled" in enabled.headers["location"]
    assert user(console, "operator").active is True  # type: ignore[union-attr]
    assert console.submit_login(console.browser(), "operator", PASSWORD).status_code == 303
    # Disabled without revoking: the account's tokens were kept and work again (the API's
    # rule, intake_api.users.set_active); the form offers revoking them as well.
    assert api_token_works(console, "operator")
    assert ("admin", "user_enabled", "operator") in audit_actions(console)


def test_disabling_with_revoke_keeps_old_sessions_and_tokens_dead_after_enabling(
    console: Console,
) -> None:
    police = console.sign_in("police", through_form=True)
    admin = console.sign_in("admin")
    done = submit(console, admin, "/users/police/active", active="0", revoke="1")
    assert done.status_code == 303 and "ok=disabled_revoked" in done.headers["location"]
    actions = audit_actions(console)
    assert ("admin", "user_disabled", "police") in actions
    assert ("admin", "tokens_revoked", "police: 2 token(s)") in actions  # the API's and the form's
    assert submit(console, admin, "/users/police/active", active="1").status_code == 303
    # Enabled again, but what was out there before stays revoked: the person signs in afresh.
    assert signed_out(police)
    assert not api_token_works(console, "police")
    fresh = console.sign_in("police", through_form=True)
    assert fresh.get("/console").status_code == 200


def test_revoking_tokens_ends_sessions_and_api_tokens_and_leaves_the_account(
    console: Console,
) -> None:
    dolisa = console.sign_in("dolisa", through_form=True)
    admin = console.sign_in("admin")
    done = submit(console, admin, "/users/dolisa/tokens")
    assert done.status_code == 303 and "ok=revoked" in done.headers["location"]
    assert signed_out(dolisa)
    assert not api_token_works(console, "dolisa")
    assert user(console, "dolisa").active is True  # type: ignore[union-attr]
    assert ("admin", "tokens_revoked", "dolisa: 2 token(s)") in audit_actions(console)
    assert console.sign_in("dolisa", through_form=True).get("/console").status_code == 200
    # A leaked service token is revoked the same way; the other service account is untouched.
    assert submit(console, admin, "/users/bot/tokens").status_code == 303
    assert console.api.post("bot", "/api/v1/outbound/replies/claim").status_code == 401
    assert console.api.post("otherbot", "/api/v1/outbound/replies/claim").status_code == 200
    missing = submit(console, admin, "/users/nobody/tokens")
    assert missing.status_code == 422 and "Không có tài khoản" in missing.text


def test_an_admin_cannot_disable_themselves_so_the_last_admin_stays(console: Console) -> None:
    admin = console.sign_in("admin")
    assert 'action="/console/admin/users/admin/active"' not in admin.get("/console/admin").text
    own = submit(console, admin, "/users/admin/active", active="0", revoke="1")
    assert own.status_code == 422 and "chính mình" in own.text
    assert user(console, "admin").active is True  # type: ignore[union-attr]
    assert admin.get("/console/admin").status_code == 200 and api_token_works(console, "admin")
    assert not any(a[1] in ("user_disabled", "tokens_revoked") for a in audit_actions(console))
    # The API keeps the same rule (one home: intake_api.users.set_active).
    api_own = console.api.patch("admin", "/api/v1/users/admin", json={"active": False})
    assert api_own.status_code == 409

    # With a second admin, one may disable the other; the one left cannot disable themselves,
    # and only an active admin can disable anyone: an admin always remains.
    with Session(console.api.engine) as session:
        create_user(session, "second.admin", PASSWORD, ["admin"])
    second = console.sign_in("second.admin")
    assert submit(console, second, "/users/admin/active", active="0").status_code == 303
    assert signed_out(admin)
    last = submit(console, second, "/users/second.admin/active", active="0")
    assert last.status_code == 422 and user(console, "second.admin").active is True  # type: ignore[union-attr]
    with Session(console.api.engine) as session:
        admins = [u for u in session.exec(select(User)) if "admin" in u.role_set and u.active]
    assert [u.username for u in admins] == ["second.admin"]
    missing = submit(console, second, "/users/nobody/active", active="0")
    assert missing.status_code == 422 and "Không có tài khoản" in missing.text


def test_non_admins_cannot_disable_or_revoke_with_or_without_a_token(console: Console) -> None:
    def state() -> tuple[Any, ...]:
        with Session(console.api.engine) as session:
            users_now = tuple(sorted((u.username, u.active) for u in session.exec(select(User))))
            revoked = session.exec(
                select(func.count()).select_from(ApiToken).where(ApiToken.revoked)
            ).one()
        return users_now, revoked, len(audit_actions(console))

    before = state()
    for who in ("operator", "supervisor", "police", "dolisa"):
        browser = console.sign_in(who)
        own_token = csrf_of(browser.get("/console").text)  # their own, valid session token
        for action, data in (
            ("/users/police/active", {"active": "0", "revoke": "1"}),
            ("/users/admin/active", {"active": "0"}),
            ("/users/bot/tokens", {}),
        ):
            for form in ({**data, "csrf": own_token}, data):
                response = browser.post(
                    f"/console/admin{action}", data=form, follow_redirects=False
                )
                assert response.status_code == 403, (who, action, form)
    anonymous = console.browser().post(
        "/console/admin/users/police/active", data={"active": "0"}, follow_redirects=False
    )
    assert anonymous.status_code == 303 and "/console/login" in anonymous.headers["location"]
    assert state() == before
    assert api_token_works(console, "police") and api_token_works(console, "admin")
