"""Console clients: one browser-like client (its own cookie jar) per signed-in person, on the
same app and database as the API fixture of tests/intake_api/conftest.py."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from intake_api.console.session import COOKIE
from intake_api.models import User
from intake_api.tokens import issue_token
from tests.intake_api.conftest import PASSWORD, Api

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@dataclass
class Console:
    api: Api

    def browser(self, base_url: str = "http://testserver") -> TestClient:
        return TestClient(self.api.client.app, base_url=base_url, raise_server_exceptions=False)

    def sign_in(
        self,
        who: str,
        password: str = PASSWORD,
        browser: TestClient | None = None,
        through_form: bool = False,
    ) -> TestClient:
        """A signed-in browser. Through the form when asked (or for another password); else a
        session made as the form makes it, without Argon2's deliberate 0.3 s per sign-in
        (test_session.py drives the form itself)."""
        browser = browser or self.browser()
        if through_form or password != PASSWORD:
            response = self.submit_login(browser, who, password)
            assert response.status_code == 303, response.text
            return browser
        with Session(self.api.engine) as session:
            user = session.exec(select(User).where(User.username == who)).one()
            token = issue_token(session, user, timedelta(hours=1), label="login")
        codec = self.api.client.app.state.console_codec
        browser.cookies.set(COOKIE, codec.seal(token, secrets.token_urlsafe(32)), path="/console")
        return browser

    def submit_login(self, browser: TestClient, who: str, password: str) -> Any:
        form = browser.get("/console/login")
        return browser.post(
            "/console/login",
            data={"username": who, "password": password, "csrf": csrf_of(form.text)},
            follow_redirects=False,
        )

    def post(self, browser: TestClient, page: str, action: str, **data: Any) -> Any:
        """Submits a form the way a person does: load the page, take its token, post."""
        html = browser.get(page).text
        return browser.post(action, data={"csrf": csrf_of(html), **data}, follow_redirects=False)


@pytest.fixture
def console(api: Api) -> Iterator[Console]:
    yield Console(api)


def refer(api: Api, ticket_id: str, to: str = "dolisa") -> int:
    response = api.post(
        "operator",
        f"/api/v1/tickets/{ticket_id}/referrals",
        json={"to_agency": to, "reason": "cần hỗ trợ nạn nhân"},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def failed_reply(api: Api, ticket_id: str) -> int:
    """A staff reply the bot tried and could not deliver."""
    queued = api.post("operator", f"/api/v1/tickets/{ticket_id}/replies", json={"text": "Chào bạn"})
    assert queued.status_code == 201, queued.text
    reply_id = int(queued.json()["id"])
    claimed = api.post("bot", "/api/v1/outbound/replies/claim")
    assert reply_id in [r["id"] for r in claimed.json()]
    result = api.post(
        "bot",
        f"/api/v1/outbound/replies/{reply_id}/result",
        json={"state": "failed", "error": "the person blocked the bot"},
    )
    assert result.status_code == 200, result.text
    return reply_id
