"""Console clients: one browser-like client (its own cookie jar) per signed-in person, on the
same app and database as the API fixture of tests/intake_api/conftest.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

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
        self, who: str, password: str = PASSWORD, browser: TestClient | None = None
    ) -> TestClient:
        browser = browser or self.browser()
        response = self.submit_login(browser, who, password)
        assert response.status_code == 303, response.text
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
