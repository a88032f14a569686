"""The published schema tells the truth (docs/api.md, Errors): every error body is the
documented `{"detail": "<sentence>"}`, every status a route answers is documented on it,
OPTIONS lists what a resource has, schema-valid requests are accepted, and /docs works
without the internet."""

from __future__ import annotations

import re
from typing import Any

import jsonschema_rs
import pytest

from tests.intake_api.conftest import Api, intake_body


def _schema(api: Api) -> dict[str, Any]:
    return api.client.get("/openapi.json").json()


def _validator(schema: dict[str, Any], response_schema: dict[str, Any]) -> Any:
    # Resolve the component references against the whole document.
    return jsonschema_rs.validator_for(
        {**response_schema, "components": schema["components"]}, validate_formats=True
    )


def _documented(schema: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    responses = schema["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} does not document {status}"
    return responses[str(status)]


def test_every_422_is_documented_as_the_sentence_it_is(api: Api) -> None:
    schema = _schema(api)
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            ref = operation["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ValidationErrorOut"), (method, path)
    detail = schema["components"]["schemas"]["ValidationErrorOut"]["properties"]["detail"]
    assert detail["type"] == "string"


@pytest.mark.parametrize(
    ("who", "method", "path", "template", "kwargs"),
    [
        # Malformed input (pydantic), a well-formed value naming nothing configured, a query.
        ("bot", "post", "/api/v1/intake", "/api/v1/intake", {"json": {"channel": "fax"}}),
        (
            "bot",
            "post",
            "/api/v1/intake",
            "/api/v1/intake",
            {"json": intake_body(province="Xứ Sở Thần Tiên")},
        ),
        ("operator", "get", "/api/v1/tickets?page=0", "/api/v1/tickets", {}),
    ],
)
def test_actual_422_bodies_match_the_schema(
    api: Api, who: str, method: str, path: str, template: str, kwargs: dict[str, Any]
) -> None:
    headers = {**api.headers(who), "Idempotency-Key": "schema-422-0001"}
    response = api.client.request(method, path, headers=headers, **kwargs)
    assert response.status_code == 422, response.text
    schema = _schema(api)
    documented = _documented(schema, template, method, 422)["content"]["application/json"]
    _validator(schema, documented["schema"]).validate(response.json())
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        ("/api/v1/auth/token", "post", [400, 401, 413, 422, 429]),
        ("/api/v1/intake", "post", [400, 401, 403, 409, 413, 422]),
        ("/api/v1/tickets/{ticket_id}", "get", [401, 403, 404, 422]),
        ("/api/v1/tickets/{ticket_id}", "patch", [400, 401, 403, 404, 409, 413, 422]),
        ("/api/v1/tickets/{ticket_id}/referrals/{referral_id}/accept", "post", [403, 404, 409]),
        ("/api/v1/outbound/replies/{reply_id}/result", "post", [403, 404, 413, 422]),
        ("/api/v1/users", "post", [403, 409, 413, 422]),
        ("/api/v1/users/{username}", "patch", [403, 404, 409]),
        ("/healthz", "get", [503]),
    ],
)
def test_the_statuses_a_route_answers_are_documented_on_it(
    api: Api, path: str, method: str, statuses: list[int]
) -> None:
    schema = _schema(api)
    for status in statuses:
        _documented(schema, path, method, status)
    limited = _documented(schema, "/api/v1/auth/token", "post", 429)
    assert "Retry-After" in limited["headers"]


def test_a_429_carries_its_documented_body_and_header(api: Api) -> None:
    for _ in range(5):
        api.client.post("/api/v1/auth/token", data={"username": "police", "password": "wrong-pw"})
    held = api.client.post("/api/v1/auth/token", data={"username": "police", "password": "x"})
    assert held.status_code == 429 and held.headers["Retry-After"].isdigit()
    schema = _schema(api)
    documented = _documented(schema, "/api/v1/auth/token", "post", 429)
    _validator(schema, documented["content"]["application/json"]["schema"]).validate(held.json())


def test_options_lists_every_method_of_the_resource(api: Api) -> None:
    tid = api.new_ticket()["id"]
    options = api.client.options(f"/api/v1/tickets/{tid}")
    assert options.status_code == 204
    assert options.headers["Allow"] == "GET, HEAD, PATCH, OPTIONS"
    wrong = api.client.delete(f"/api/v1/tickets/{tid}", headers=api.headers("operator"))
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "GET, HEAD, PATCH, OPTIONS"
    assert (
        api.client.options("/api/v1/users/lan.nguyen/tokens").headers["Allow"] == "DELETE, OPTIONS"
    )
    assert api.client.options("/api/v1/nothing-here").status_code == 404


def test_an_empty_patch_is_accepted_and_changes_nothing(api: Api) -> None:
    tid = api.new_ticket()["id"]
    before = api.detail(tid)
    response = api.patch("operator", f"/api/v1/tickets/{tid}", json={})
    assert response.status_code == 200, response.text
    after = api.detail(tid)
    assert after["version"] == before["version"] and after["events"] == before["events"]
    with_version = api.patch("operator", f"/api/v1/tickets/{tid}", json={"version": 1})
    assert with_version.status_code == 200


def test_whitespace_only_text_is_refused_and_the_schema_says_so(api: Api) -> None:
    tid = api.new_ticket()["id"]
    response = api.post("police", f"/api/v1/tickets/{tid}/notes", json={"text": " \t\n\u3000"})
    assert response.status_code == 422 and "text" in response.json()["detail"]
    pattern = _schema(api)["components"]["schemas"]["NoteIn"]["properties"]["text"]["pattern"]
    for blank in (" ", "\t\n", "\u3000\u00a0", "\ufeff"):
        assert re.search(pattern, blank) is None, repr(blank)
    for text in ("Đã gọi xã", " có chữ ", "a\u3000b"):
        assert re.search(pattern, text) is not None, repr(text)
    assert (
        api.post("police", f"/api/v1/tickets/{tid}/notes", json={"text": " có chữ "}).json()["text"]
        == "có chữ"
    )


def test_the_schema_lists_the_configured_agencies_and_province_names(api: Api) -> None:
    components = _schema(api)["components"]["schemas"]
    agencies = components["TriageIn"]["properties"]["agencies"]["items"]["enum"]
    assert agencies == [
        "police",
        "dolisa",
        "border_guard",
        "coast_guard",
        "commune",
        "womens_union",
    ]
    province = components["IntakeIn"]["properties"]["province"]["anyOf"][0]["enum"]
    assert "Thành phố Hồ Chí Minh" in province and "bình dương" in province
    assert province[:2] == ["Hà Nội", "Huế"]  # the units in force come first


def test_docs_work_offline_from_locally_served_assets(api: Api) -> None:
    for page in ("/docs", "/redoc"):
        html = api.client.get(page)
        assert html.status_code == 200
        urls = re.findall(r'(?:src|href)="([^"]+)"', html.text)
        assert urls and all(u.startswith("/") for u in urls), urls
        assert "cdn" not in html.text.lower() and "https://" not in html.text
        for url in urls:
            asset = api.client.get(url)
            assert asset.status_code == 200 and len(asset.content) > 1000, url
    bundle = api.client.get("/docs-assets/swagger-ui-bundle.js").text
    # Swagger UI 5 or later reads OpenAPI 3.1, the version FastAPI publishes.
    assert _schema(api)["openapi"].startswith("3.1")
    assert re.search(r'"5\.\d+\.\d+"', bundle)
