"""Bad input gets a clear 4xx naming what is wrong, never a 500, and changes nothing stored."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.intake_api.conftest import Api, intake_body


def _raw_intake(api: Api, content: bytes, key: str = "raw-key-0001") -> Any:
    return api.client.post(
        "/api/v1/intake",
        content=content,
        headers={**api.headers("bot"), "Idempotency-Key": key, "Content-Type": "application/json"},
    )


def _snapshot(api: Api, ticket_id: str) -> dict[str, Any]:
    body = api.get("operator", f"/api/v1/tickets/{ticket_id}").json()
    return {
        k: body[k] for k in ("status", "priority", "agencies", "version", "transcript", "notes")
    }


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b'{"channel": "telegram",', "not valid JSON"),
        (b"[1, 2, 3]", "body"),
        (json.dumps({**intake_body(), "channel": "fax"}).encode(), "channel"),
        (json.dumps({**intake_body(), "transcript": "hello"}).encode(), "transcript"),
        (json.dumps({**intake_body(), "surprise": 1}).encode(), "surprise"),
        (json.dumps({k: v for k, v in intake_body().items() if k != "triage"}).encode(), "triage"),
        (json.dumps({**intake_body(), "province": "x" * 500}).encode(), "province"),
        (json.dumps(intake_body(priority="P9")).encode(), "priority"),
        (json.dumps(intake_body(text="\u0000 null byte")).encode(), "NUL"),
        # A lone surrogate is valid JSON syntax but not text that can be stored.
        (
            json.dumps(intake_body(), ensure_ascii=False)
            .replace("nhà bên", "\\ud800 bên")
            .encode(),
            "unicode",
        ),
        ('{"channel": "telegram", "x": "\xff"}'.encode("latin-1"), "JSON"),
    ],
)
def test_malformed_intake_is_422_naming_the_problem(api: Api, content: bytes, needle: str) -> None:
    response = _raw_intake(api, content)
    assert response.status_code in (400, 422), response.text
    assert needle.lower() in response.json()["detail"].lower()
    assert api.get("operator", "/api/v1/tickets").json()["total"] == 0


def test_oversized_body_is_413_and_nothing_is_stored(api: Api) -> None:
    big = json.dumps(intake_body(text="a" * 70_000)).encode()
    response = _raw_intake(api, big)
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]
    assert api.get("operator", "/api/v1/tickets").json()["total"] == 0


def test_overlong_message_is_refused_by_field(api: Api) -> None:
    response = api.intake(intake_body(text="ư" * 4001))
    assert response.status_code == 422
    assert "transcript.0.text" in response.json()["detail"]


def test_bad_edits_leave_the_ticket_unchanged(api: Api) -> None:
    tid = api.new_ticket()["id"]
    before = _snapshot(api, tid)
    attempts = [
        {"status": "teleported"},
        {"priority": 1},
        {"agencies": []},
        {"agencies": ["police", "cia"]},
        {"status": "resolved"},
        {"version": 0},
        {"assignee": "ghost"},
    ]
    for body in attempts:
        response = api.patch("operator", f"/api/v1/tickets/{tid}", json=body)
        assert 400 <= response.status_code < 500, (body, response.text)
        assert response.json()["detail"], body
    assert (
        api.post("operator", f"/api/v1/tickets/{tid}/notes", json={"text": ""}).status_code == 422
    )
    assert (
        api.post(
            "operator",
            f"/api/v1/tickets/{tid}/referrals",
            json={"to_agency": "nasa", "reason": "x"},
        ).status_code
        == 422
    )
    assert _snapshot(api, tid) == before


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/tickets/0123456789abcdef0123456789abcdef",
        "/api/v1/tickets/%00",
        "/api/v1/tickets/" + "9" * 300,
        "/api/v1/tickets?page=0",
        "/api/v1/tickets?priority=P7",
        "/api/v1/tickets?created_from=yesterday",
        "/api/v1/tickets?q=%00",
        "/api/v1/nothing-here",
    ],
)
def test_unknown_ids_and_bad_queries_are_clear_4xx(api: Api, url: str) -> None:
    response = api.get("operator", url)
    assert 400 <= response.status_code < 500
    assert isinstance(response.json()["detail"], str) and response.json()["detail"]


def test_huge_row_ids_are_refused_not_overflowed(api: Api) -> None:
    tid = api.new_ticket()["id"]
    response = api.post("dolisa", f"/api/v1/tickets/{tid}/referrals/{2**70}/accept")
    assert response.status_code in (404, 422)
    result = api.post(
        "bot", f"/api/v1/outbound/replies/{2**64}/result", json={"state": "delivered"}
    )
    assert result.status_code == 422


NUL = "ab\x00cd"
LONE_SURROGATE = "ab\ud800cd"
STORED_TABLES = (
    "tickets",
    "ticket_messages",
    "ticket_events",
    "ticket_agencies",
    "notes",
    "referrals",
    "replies",
    "users",
    "api_tokens",
)


def _counts(api: Api) -> dict[str, int]:
    with api.engine.connect() as conn:
        return {
            t: conn.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar() for t in STORED_TABLES
        }


def _with(body: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    copy = json.loads(json.dumps(body))
    node: Any = copy
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return copy


def _text_fields(api: Api) -> list[tuple[str, str, str, dict[str, Any], str]]:
    """(who, method, url, a valid body, a text field in it) for every JSON body of the API."""
    ticket = api.new_ticket()
    tid, code = ticket["id"], ticket["reference_code"]
    rid = api.post(
        "police", f"/api/v1/tickets/{tid}/referrals", json={"to_agency": "dolisa", "reason": "x"}
    ).json()["id"]
    full = intake_body()
    full["reporter"]["sender_ref"] = "a" * 64
    full["conversation_id"] = "conv-1"
    message = {"text": "x", "message_id": "m-1", "sender_ref": "a" * 64, "province": "Huế"}
    message["country"], message["phone"] = "Lào", "0912345678"
    user = {"username": "new.user", "password": "a-long-enough-password", "roles": ["operator"]}
    user["full_name"] = "Lê Văn Minh"
    cases = [
        ("bot", "post", "/api/v1/intake", full, f)
        for f in (
            "reporter.channel_user_id",
            "reporter.name",
            "reporter.phone",
            "reporter.sender_ref",
            "transcript.0.text",
            "nlu.text",
            "nlu.intent.name",
            "triage.reasons.0",
            "province",
            "country",
            "conversation_id",
            "reference_code",
        )
    ]
    for url in (f"/api/v1/tickets/{tid}/messages", f"/api/v1/tickets/by-reference/{code}/messages"):
        cases += [("bot", "post", url, message, f) for f in message]
    cases += [
        ("police", "post", f"/api/v1/tickets/{tid}/notes", {"text": "x"}, "text"),
        ("police", "post", f"/api/v1/tickets/{tid}/replies", {"text": "x"}, "text"),
        ("operator", "patch", f"/api/v1/tickets/{tid}", {"assignee": "police"}, "assignee"),
        ("dolisa", "post", f"/api/v1/tickets/{tid}/referrals/{rid}/return", {"note": "x"}, "note"),
        ("bot", "post", "/api/v1/reporters/open-tickets", {"phone": "0912345678"}, "phone"),
        (
            "bot",
            "post",
            "/api/v1/reporters/open-tickets",
            {"channel": "telegram", "channel_user_id": "x"},
            "channel_user_id",
        ),
        (
            "bot",
            "post",
            "/api/v1/outbound/replies/1/result",
            {"state": "failed", "error": "x"},
            "error",
        ),
    ]
    cases += [
        ("admin", "post", "/api/v1/users", user, f) for f in ("username", "password", "full_name")
    ]
    return cases


def test_nul_and_lone_surrogates_are_refused_in_every_text_field(api: Api) -> None:
    cases = _text_fields(api)
    before = _counts(api)
    for who, method, url, body, field in cases:
        for bad in (NUL, LONE_SURROGATE):
            content = json.dumps(_with(body, field, bad)).encode()  # \u0000, \ud800 escapes
            headers = {**api.headers(who), "Content-Type": "application/json"}
            if url.endswith("/intake"):
                headers["Idempotency-Key"] = "bad-text-0001"
            response = api.client.request(method, url, content=content, headers=headers)
            assert response.status_code == 422, (url, field, repr(bad), response.text)
            # Refused for that field, not for something else in the body.
            assert field.split(".")[-1] in response.json()["detail"], (url, field, response.text)
    assert _counts(api) == before


@pytest.mark.parametrize(
    ("who", "url"),
    [
        ("operator", "/api/v1/tickets?q=a%00b"),
        ("operator", "/api/v1/tickets?province=a%00b"),
        ("operator", "/api/v1/tickets?agency=a%00b"),
        ("operator", "/api/v1/tickets?assignee=a%00b"),
        ("supervisor", "/api/v1/stats?q=a%00b"),
        ("supervisor", "/api/v1/audit?actor=a%00b"),
        ("supervisor", "/api/v1/audit?ticket_id=a%00b"),
        ("supervisor", "/api/v1/audit?action=a%00b"),
        ("bot", "/api/v1/tickets/by-reference/TIP-%00"),
        ("operator", "/api/v1/tickets/ab%00cd"),
    ],
)
def test_nul_in_a_query_or_path_is_422(api: Api, who: str, url: str) -> None:
    response = api.get(who, url)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    ("nlu", "needle"),
    [
        ({"intent": {"name": "x", "confidence": int("9" * 400)}}, "number"),
        ({"intent": {"name": "x", "confidence": -(2**60)}}, "number"),
        ({"score": 1e300}, "number"),
        ({"a\x00b": 1}, "key"),
        ({"text": "a\x00b"}, "NUL"),
        ({"entities": list(range(1001))}, "1000"),
    ],
)
def test_nlu_results_are_bounded_and_refused_whole(api: Api, nlu: object, needle: str) -> None:
    response = api.intake(intake_body(nlu=nlu))
    assert response.status_code == 422, response.text
    assert needle.lower() in response.json()["detail"].lower()
    assert api.get("operator", "/api/v1/tickets").json()["total"] == 0


def test_nlu_nested_three_hundred_levels_is_422_and_stores_nothing(api: Api) -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(300):
        node["x"] = {}
        node = node["x"]
    response = api.intake(intake_body(nlu=deep))
    assert response.status_code == 422
    assert "nested deeper" in response.json()["detail"]
    assert api.get("operator", "/api/v1/tickets").json()["total"] == 0


def test_a_body_nested_past_what_json_can_parse_is_a_clear_4xx(api: Api) -> None:
    response = _raw_intake(api, b"[" * 30_000 + b"]" * 30_000)
    assert response.status_code in (400, 422)
    assert response.json()["detail"]


def test_a_number_too_large_for_its_field_is_422(api: Api) -> None:
    tid = api.new_ticket()["id"]
    huge = "9" * 400
    raw = f'{{"status": "acknowledged", "version": {huge}}}'.encode()
    patch = api.client.patch(
        f"/api/v1/tickets/{tid}",
        content=raw,
        headers={**api.headers("operator"), "Content-Type": "application/json"},
    )
    assert patch.status_code == 422, patch.text
    located = json.dumps({**intake_body(), "location": {"lat": 1.5, "lon": 1}})
    content = located.replace('"lat": 1.5', f'"lat": {huge}')
    assert _raw_intake(api, content.encode(), key="huge-lat-0001").status_code == 422
    assert api.get("operator", f"/api/v1/tickets?page={huge}").status_code == 422
    assert api.detail(tid)["status"] == "new"


def test_a_referral_id_beyond_its_column_is_refused_not_overflowed(api: Api) -> None:
    tid = api.new_ticket()["id"]
    for rid in (2**31, 2**31 + 5, 2**62):
        response = api.post("dolisa", f"/api/v1/tickets/{tid}/referrals/{rid}/accept")
        assert response.status_code in (404, 422), (rid, response.text)
        response = api.post("operator", f"/api/v1/tickets/{tid}/referrals/{rid}/return")
        assert response.status_code in (404, 422), (rid, response.text)
