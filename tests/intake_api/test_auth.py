from __future__ import annotations

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
