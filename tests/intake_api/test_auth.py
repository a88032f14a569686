from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.intake_api.conftest import PASSWORD, Api


def _login(api: Api, username: str, password: str) -> object:
    return api.client.post("/api/v1/auth/token", data={"username": username, "password": password})


def test_login_gives_a_bearer_token_that_works(api: Api) -> None:
    response = _login(api, "operator", PASSWORD)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    listed = api.client.get(
        "/api/v1/tickets", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert listed.status_code == 200


def test_wrong_password_and_unknown_user_look_the_same(api: Api) -> None:
    wrong = _login(api, "operator", "not the password")
    unknown = _login(api, "nobody-here", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_repeated_failures_are_throttled_with_retry_after(api: Api) -> None:
    for _ in range(5):
        assert _login(api, "police", "guessing-wrong").status_code == 401
    locked = _login(api, "police", PASSWORD)
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    # Another account is not affected.
    assert _login(api, "dolisa", PASSWORD).status_code == 200


def test_requests_without_a_valid_token_are_401(api: Api) -> None:
    assert api.client.get("/api/v1/tickets").status_code == 401
    bad = api.client.get("/api/v1/tickets", headers={"Authorization": "Bearer hl_forged"})
    assert bad.status_code == 401
    assert "bearer token" in bad.json()["detail"]


def test_health_reports_database(api: Api) -> None:
    response = api.client.get("/healthz")
    assert response.json() == {"status": "ok", "database": "ok"}


def test_admin_creates_users_and_others_cannot(api: Api) -> None:
    body = {"username": "lan.nguyen", "password": "a-long-enough-password", "roles": ["dolisa"]}
    assert api.post("operator", "/api/v1/users", json=body).status_code == 403
    created = api.post("admin", "/api/v1/users", json=body)
    assert created.status_code == 201 and created.json()["roles"] == ["dolisa"]
    assert api.post("admin", "/api/v1/users", json=body).status_code == 409
    short = {**body, "username": "short.pw", "password": "short"}
    assert api.post("admin", "/api/v1/users", json=short).status_code == 422
    assert _login(api, "lan.nguyen", "a-long-enough-password").status_code == 200


def _client_at(api: Api, address: str) -> TestClient:
    return TestClient(api.client.app, client=(address, 40000), raise_server_exceptions=False)


def _sign_in(client: TestClient, username: str, password: str) -> Any:
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def test_thirty_concurrent_guesses_are_all_counted_before_any_is_checked(api: Api) -> None:
    attacker = _client_at(api, "203.0.113.7")
    guesses = [f"guess-number-{n:02d}" for n in range(30)]
    with ThreadPoolExecutor(max_workers=30) as pool:
        answers = list(pool.map(lambda pw: _sign_in(attacker, "police", pw), guesses))
    codes = sorted(r.status_code for r in answers)
    # Only as many as the account allows reach the password check; the rest wait.
    assert codes.count(401) == 5 and codes.count(429) == 25, codes
    assert all(int(r.headers["Retry-After"]) >= 1 for r in answers if r.status_code == 429)
    # The right password from the guessing address waits too...
    assert _sign_in(attacker, "police", PASSWORD).status_code == 429
    # ...but never from an address that has not failed: the officer is not locked out.
    officer = _client_at(api, "198.51.100.20")
    assert _sign_in(officer, "police", PASSWORD).status_code == 200


def test_one_address_guessing_across_many_names_is_throttled_by_address(api: Api) -> None:
    sprayer = _client_at(api, "203.0.113.9")
    for n in range(10):
        assert _sign_in(sprayer, f"someone-{n}", "wrong-password-x").status_code == 401
    held = _sign_in(sprayer, "operator", PASSWORD)
    assert held.status_code == 429 and "address" in held.json()["detail"]
    assert _sign_in(_client_at(api, "198.51.100.21"), "operator", PASSWORD).status_code == 200


def test_failures_and_throttling_are_audited_without_the_typed_name(api: Api) -> None:
    client = _client_at(api, "203.0.113.11")
    for _ in range(6):
        _sign_in(client, "dolisa", "not the password")
    _sign_in(client, "mat-khau-go-nham-o-o-ten", "x")  # a password typed as the name
    records = api.audit(action="login_failed") + api.audit(action="login_throttled")
    assert {(r["actor"], r["action"]) for r in records} >= {
        ("dolisa", "login_failed"),
        ("dolisa", "login_throttled"),
    }
    assert "mat-khau-go-nham-o-o-ten" not in str(api.audit())


@pytest.mark.parametrize(
    "form",
    [
        {"username": "police\x00", "password": PASSWORD},
        {"username": "police", "password": "pass\x00word-long-enough"},
        {"username": "", "password": PASSWORD},
        {"username": "x" * 201, "password": PASSWORD},
    ],
)
def test_a_malformed_sign_in_is_422_not_500(api: Api, form: dict[str, str]) -> None:
    response = api.client.post("/api/v1/auth/token", data=form)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]
