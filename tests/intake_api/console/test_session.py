"""Signing in to the console and what keeps the session safe: the cookie's flags, the API's
throttling, the idle time-out, sign-out on the server, and cookies that are not ours."""

from __future__ import annotations

from datetime import timedelta
from http.cookies import SimpleCookie

import pytest
from sqlmodel import Session, select

from intake_api.console.session import COOKIE, LOGIN_COOKIE, SessionCodec
from intake_api.crypto import PersonalDataCipher
from intake_api.models import ApiToken, User
from tests.conftest import TEST_KEYS
from tests.intake_api.conftest import PASSWORD
from tests.intake_api.console.conftest import Console, csrf_of


def set_cookies(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Each Set-Cookie header of a response, by cookie name, as sent."""
    found = {}
    for header in response.headers.get_list("set-cookie"):
        found[header.split("=", 1)[0]] = header
    return found


def session_cookie(browser) -> str:  # type: ignore[no-untyped-def]
    value = browser.cookies.get(COOKIE, path="/console")
    assert value, "no console session cookie"
    return value


class Clock:
    def __init__(self, console: Console) -> None:
        self.codec: SessionCodec = console.api.client.app.state.console_codec
        self.now = 1_900_000_000.0
        self.codec.clock = lambda: self.now

    def advance(self, minutes: float) -> None:
        self.now += minutes * 60


def test_the_first_page_is_the_sign_in_form_and_says_how_to_make_accounts(
    console: Console,
) -> None:
    browser = console.browser()
    response = browser.get("/console", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=%2Fconsole"
    page = browser.get(response.headers["location"])
    assert page.status_code == 200
    assert "admin" in page.text and "make run" in page.text and "Quản trị" in page.text
    assert "hotline users create" in page.text


def test_signing_in_sets_an_http_only_same_site_strict_cookie(console: Console) -> None:
    browser = console.browser()
    response = console.submit_login(browser, "operator", PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/console"
    cookie = set_cookies(response)[COOKIE]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    # Served over plain http (a developer's machine), the cookie cannot be Secure...
    assert "Secure" not in cookie
    # ...and the value reveals nothing: not the bearer token, not the user name.
    value = SimpleCookie(cookie)[COOKIE].value
    assert "hl_" not in value and "operator" not in value
    assert browser.get("/console").status_code == 200


def test_over_https_the_cookie_is_secure(console: Console) -> None:
    browser = console.browser("https://testserver")
    response = console.submit_login(browser, "operator", PASSWORD)
    assert response.status_code == 303
    assert "Secure" in set_cookies(response)[COOKIE]


def test_the_secure_flag_is_a_setting_for_tls_proxies(console: Console) -> None:
    """Behind a proxy that ends TLS and forwards plain http, the app cannot see the https;
    the setting forces the flag (and `false` drops it, for a closed test network)."""
    settings = console.api.client.app.state.hotline.settings
    try:
        settings.console_cookie_secure = True
        forced = console.browser().get("/console/login")
        assert "Secure" in set_cookies(forced)[LOGIN_COOKIE]
        settings.console_cookie_secure = False
        dropped = console.browser("https://testserver").get("/console/login")
        assert "Secure" not in set_cookies(dropped)[LOGIN_COOKIE]
    finally:
        settings.console_cookie_secure = None


def test_wrong_password_and_unknown_name_get_the_same_answer(console: Console) -> None:
    wrong = console.submit_login(console.browser(), "operator", "not the password")
    unknown = console.submit_login(console.browser(), "nobody-here", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu" in wrong.text
    assert COOKIE not in set_cookies(wrong)


def test_the_console_and_the_api_share_one_throttle(console: Console) -> None:
    browser = console.browser()
    for _ in range(3):
        assert console.submit_login(browser, "police", "guessing-wrong").status_code == 401
    for _ in range(2):  # failures through the API count against the same name
        api_try = console.api.client.post(
            "/api/v1/auth/token", data={"username": "police", "password": "guessing-wrong"}
        )
        assert api_try.status_code == 401
    locked = console.submit_login(browser, "police", PASSWORD)
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "quá nhiều lần" in locked.text
    assert COOKIE not in set_cookies(locked)
    api_locked = console.api.client.post(
        "/api/v1/auth/token", data={"username": "police", "password": PASSWORD}
    )
    assert api_locked.status_code == 429
    # Another account is not affected.
    assert console.submit_login(console.browser(), "dolisa", PASSWORD).status_code == 303


def test_the_sign_in_form_refuses_a_post_without_its_own_token(console: Console) -> None:
    browser = console.browser()
    browser.get("/console/login")
    forged = browser.post(
        "/console/login",
        data={"username": "operator", "password": PASSWORD, "csrf": "x" * 43},
        follow_redirects=False,
    )
    assert forged.status_code == 403 and COOKIE not in set_cookies(forged)
    # From a page on another site there is no login cookie at all.
    cross_site = console.browser().post(
        "/console/login",
        data={"username": "operator", "password": PASSWORD, "csrf": "x" * 43},
        follow_redirects=False,
    )
    assert cross_site.status_code == 403
    assert "Biểu mẫu đã hết hạn" in cross_site.text


def test_the_login_token_cookie_has_the_same_flags(console: Console) -> None:
    page = console.browser().get("/console/login")
    cookie = set_cookies(page)[LOGIN_COOKIE]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert csrf_of(page.text) == SimpleCookie(cookie)[LOGIN_COOKIE].value


def test_after_sign_in_the_person_goes_where_they_were_going_but_never_off_site(
    console: Console,
) -> None:
    for given, expected in [
        ("/console/dashboard", "/console/dashboard"),
        ("//evil.example/console", "/console"),
        ("https://evil.example/console", "/console"),
        ("/console\\@evil.example", "/console"),
        ("/elsewhere", "/console"),
    ]:
        browser = console.browser()
        form = browser.get("/console/login", params={"next": given})
        response = browser.post(
            "/console/login",
            data={
                "username": "supervisor",
                "password": PASSWORD,
                "csrf": csrf_of(form.text),
                "next": given,
            },
            follow_redirects=False,
        )
        assert response.headers["location"] == expected, given


def test_a_service_account_cannot_use_the_console(console: Console) -> None:
    response = console.submit_login(console.browser(), "bot", PASSWORD)
    assert response.status_code == 403 and COOKIE not in set_cookies(response)
    assert "tài khoản dịch vụ" in response.text
    with Session(console.api.engine) as session:
        bot = session.exec(select(User).where(User.username == "bot")).one()
        logins = session.exec(
            select(ApiToken).where(ApiToken.user_id == bot.id, ApiToken.label == "login")
        ).all()
    assert logins and all(t.revoked for t in logins)


def test_sign_out_ends_the_session_on_the_server(console: Console) -> None:
    browser = console.sign_in("operator", through_form=True)
    stolen = session_cookie(browser)
    page = browser.get("/console")
    out = browser.post("/console/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303 and "signed_out=1" in out.headers["location"]
    assert browser.get("/console", follow_redirects=False).status_code == 303
    # A copy of the cookie taken before signing out opens nothing either.
    thief = console.browser()
    thief.cookies.set(COOKIE, stolen, path="/console")
    assert thief.get("/console", follow_redirects=False).status_code == 303


def test_sign_out_needs_the_session_token(console: Console) -> None:
    browser = console.sign_in("operator", through_form=True)
    forged = browser.post("/console/logout", data={"csrf": "nope"}, follow_redirects=False)
    assert forged.status_code == 403
    assert browser.get("/console").status_code == 200  # still signed in


def test_the_session_ends_after_the_idle_time_and_stays_ended(console: Console) -> None:
    clock = Clock(console)
    browser = console.sign_in("operator", through_form=True)
    stale = session_cookie(browser)
    clock.advance(29)
    assert browser.get("/console").status_code == 200  # activity: the clock starts again
    clock.advance(29)
    assert browser.get("/console").status_code == 200
    clock.advance(31)
    expired = browser.get("/console", follow_redirects=False)
    assert expired.status_code == 303
    assert "expired=1" in expired.headers["location"]
    login = browser.get(expired.headers["location"])
    assert "hết hạn" in login.text
    # Turning the clock back does not revive it: its token was revoked when it expired.
    clock.advance(-31)
    replay = console.browser()
    replay.cookies.set(COOKIE, stale, path="/console")
    assert replay.get("/console", follow_redirects=False).status_code == 303


def test_an_open_queue_refreshing_itself_is_not_activity(console: Console) -> None:
    clock = Clock(console)
    browser = console.sign_in("operator", through_form=True)

    def refresh():  # type: ignore[no-untyped-def]
        return browser.get("/console/queue/rows", headers={"Accept": "application/json"})

    for _ in range(3):
        clock.advance(9)
        rows = refresh()
        assert rows.status_code == 200
        assert COOKIE not in set_cookies(rows)
    clock.advance(9)
    # 36 minutes of refreshes alone: the session has run out, and the page's script is told.
    rows = refresh()
    assert rows.status_code == 401
    assert rows.json()["login"] == "/console/login"


def test_keep_me_signed_in_extends_the_session(console: Console) -> None:
    clock = Clock(console)
    browser = console.sign_in("operator", through_form=True)
    page = browser.get("/console")
    clock.advance(25)
    refused = browser.post("/console/session", headers={"X-CSRF-Token": "nope"})
    assert refused.status_code == 403
    extended = browser.post("/console/session", headers={"X-CSRF-Token": csrf_of(page.text)})
    assert extended.status_code == 204 and COOKIE in set_cookies(extended)
    clock.advance(25)
    assert browser.get("/console").status_code == 200


def test_the_idle_time_is_a_setting(console: Console) -> None:
    clock = Clock(console)
    settings = console.api.client.app.state.hotline.settings
    settings.console_idle_minutes = 5
    try:
        browser = console.sign_in("operator", through_form=True)
        clock.advance(6)
        assert browser.get("/console", follow_redirects=False).status_code == 303
    finally:
        settings.console_idle_minutes = 30


@pytest.mark.parametrize(
    "value",
    [
        "not-a-cookie",
        "gAAAAA" + "A" * 120,
        "x" * 5000,
    ],
)
def test_a_cookie_we_did_not_seal_opens_nothing(console: Console, value: str) -> None:
    browser = console.browser()
    browser.cookies.set(COOKIE, value, path="/console")
    response = browser.get("/console", follow_redirects=False)
    assert response.status_code == 303 and "/console/login" in response.headers["location"]


def test_a_cookie_sealed_with_another_deployments_key_opens_nothing(console: Console) -> None:
    real = console.sign_in("operator", through_form=True)
    token_cookie = session_cookie(real)
    # Same token, sealed elsewhere: the key is derived from this deployment's secret.
    other = SessionCodec(PersonalDataCipher(TEST_KEYS, "another-deployment"))
    codec: SessionCodec = console.api.client.app.state.console_codec
    token, csrf, _ = codec.open(token_cookie, 60)
    browser = console.browser()
    browser.cookies.set(COOKIE, other.seal(token, csrf), path="/console")
    assert browser.get("/console", follow_redirects=False).status_code == 303
    tampered = token_cookie[:-5] + ("A" if token_cookie[-5] != "A" else "B") + token_cookie[-4:]
    browser.cookies.set(COOKIE, tampered, path="/console")
    assert browser.get("/console", follow_redirects=False).status_code == 303


def test_a_disabled_account_is_signed_out_at_its_next_request(console: Console) -> None:
    browser = console.sign_in("dolisa", through_form=True)
    assert browser.get("/console").status_code == 200
    with Session(console.api.engine) as session:
        user = session.exec(select(User).where(User.username == "dolisa")).one()
        user.active = False
        session.add(user)
        session.commit()
    assert browser.get("/console", follow_redirects=False).status_code == 303
    assert console.submit_login(console.browser(), "dolisa", PASSWORD).status_code == 401


def test_an_expired_token_ends_the_console_session(console: Console) -> None:
    browser = console.sign_in("operator", through_form=True)
    with Session(console.api.engine) as session:
        for token in session.exec(select(ApiToken).where(ApiToken.label == "login")).all():
            token.expires_at = token.expires_at - timedelta(days=2)
            session.add(token)
        session.commit()
    assert browser.get("/console", follow_redirects=False).status_code == 303
