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
