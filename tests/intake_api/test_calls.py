"""What phone calls leave on tickets (docs/api.md, Calls): legs, recordings and call-back tasks
recorded once per key by the bot that filed the ticket, call-backs made by staff, and the
recording played through the API with the server's Twilio credentials (a local fake)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from intake_api.app import create_app
from tests.bot.channels.fake_twilio import FAKE_MP3, FakeTwilio
from tests.bot.nlu.fake_rasa import closed_port_url
from tests.intake_api.conftest import Api, add_accounts, make_settings

ACCOUNT_SID = "AC" + "7" * 32
AUTH_TOKEN = "a" * 32
CALL_SID = "CA" + "e" * 32
RECORDING_SID = "RE" + "f" * 32
RECORDING_URL = (
    f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{RECORDING_SID}"
)


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio(ACCOUNT_SID, auth_token=AUTH_TOKEN).start()
    fake.recordings[RECORDING_SID] = FAKE_MP3
    yield fake
    fake.stop()


def voice_api(engine: Engine, tmp_path: Path, **settings: Any) -> Api:
    app = create_app(make_settings(tmp_path, **settings), engine)
    tokens = add_accounts(engine)
    return Api(client=TestClient(app, raise_server_exceptions=False), engine=engine, tokens=tokens)


@pytest.fixture
def calls_api(engine: Engine, tmp_path: Path, twilio: FakeTwilio) -> Iterator[Api]:
    api = voice_api(
        engine,
        tmp_path,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_api_base=twilio.url,
    )
    with api.client:
        yield api


def voice_ticket(api: Api, priority: str = "P1") -> dict[str, Any]:
    return api.new_ticket(channel="voice", priority=priority, category="request_rescue")


def leg(outcome: str = "no-answer", key: str = "leg-on_call") -> dict[str, Any]:
    return {
        "key": key,
        "kind": "leg",
        "call_sid": CALL_SID,
        "target": "on_call",
        "outcome": outcome,
        "duration_seconds": 0,
    }


RECORDING = {
    "key": f"rec-{RECORDING_SID}",
    "kind": "recording",
    "call_sid": CALL_SID,
    "recording_sid": RECORDING_SID,
    "recording_url": RECORDING_URL,
    "duration_seconds": 48,
    "purpose": "report",
}
CALLBACK = {"key": "callback", "kind": "callback", "call_sid": CALL_SID, "reason": "missed"}


def record(api: Api, code: str, body: dict[str, Any], who: str = "bot") -> Any:
    return api.post(who, f"/api/v1/tickets/by-reference/{code}/calls", json=body)


def test_a_leg_is_recorded_once_per_key_as_an_event(calls_api: Api) -> None:
    ticket = voice_ticket(calls_api)
    first = record(calls_api, ticket["reference_code"], leg())
    assert first.status_code == 201, first.text
    assert first.json() == {"ticket_id": ticket["id"], "recorded": True}
    again = record(calls_api, ticket["reference_code"], leg())
    assert again.status_code == 200
    assert again.json()["recorded"] is False

    detail = calls_api.detail(ticket["id"])
    assert [(e["kind"], e["from_value"], e["to_value"]) for e in detail["events"]][-1] == (
        "call_leg",
        "on_call",
        "no-answer",
    )
    assert [e["kind"] for e in detail["events"]].count("call_leg") == 1
    [call] = detail["calls"]
    assert (call["kind"], call["target"], call["outcome"]) == ("leg", "on_call", "no-answer")


@pytest.mark.parametrize(
    "body",
    [
        {**leg(), "outcome": None},
        {**leg(), "target": "somebody"},
        {**leg(), "call_sid": "CA123"},
        {**RECORDING, "recording_url": "file:///etc/passwd"},
        {**RECORDING, "recording_sid": None},
        {**CALLBACK, "reason": None},
        {**leg(), "key": ""},
        {**leg(), "duration_seconds": -1},
        {**leg(), "extra": 1},
    ],
)
def test_malformed_call_records_are_refused_and_store_nothing(
    calls_api: Api, body: dict[str, Any]
) -> None:
    ticket = voice_ticket(calls_api)
    response = record(calls_api, ticket["reference_code"], body)
    assert response.status_code == 422, response.text
    assert "detail" in response.json()
    assert calls_api.detail(ticket["id"])["calls"] == []


def test_only_the_bot_that_filed_the_ticket_records_calls(calls_api: Api) -> None:
    ticket = voice_ticket(calls_api)
    assert record(calls_api, ticket["reference_code"], leg(), who="otherbot").status_code == 404
    assert record(calls_api, ticket["reference_code"], leg(), who="partner").status_code == 403
    assert record(calls_api, ticket["reference_code"], leg(), who="operator").status_code == 403
    assert record(calls_api, "TIP-ZZZZZ", leg()).status_code == 404
    assert calls_api.detail(ticket["id"])["calls"] == []


def test_a_call_back_task_shows_in_the_queue_until_a_call_reaches_the_caller(
    calls_api: Api,
) -> None:
    ticket = voice_ticket(calls_api)
    assert record(calls_api, ticket["reference_code"], CALLBACK).status_code == 201

    def due() -> bool:
        rows = calls_api.get("operator", "/api/v1/tickets").json()["items"]
        return next(r for r in rows if r["id"] == ticket["id"])["callback_due"]

    assert due()
    [task] = calls_api.detail(ticket["id"])["calls"]
    assert (task["kind"], task["target"], task["state"]) == ("callback", "missed", "open")
    url = f"/api/v1/tickets/{ticket['id']}/callbacks/{task['id']}"

    tried = calls_api.post("operator", url, json={"outcome": "no_answer"})
    assert tried.status_code == 200, tried.text
    assert (tried.json()["state"], tried.json()["attempts"]) == ("open", 1)
    assert due()
    reached = calls_api.post("operator", url, json={"outcome": "reached"})
    assert (reached.json()["state"], reached.json()["done_by"]) == ("done", "operator")
    assert not due()
    assert calls_api.post("operator", url, json={"outcome": "reached"}).status_code == 409

    detail = calls_api.detail(ticket["id"])
    made = [(e["kind"], e["to_value"]) for e in detail["events"] if e["kind"] == "callback_made"]
    assert made == [("callback_made", "no_answer"), ("callback_made", "reached")]
    assert detail["first_response_at"] is not None  # calling back is a response


def test_call_backs_are_for_tasks_of_a_ticket_one_may_see(calls_api: Api) -> None:
    ticket = voice_ticket(calls_api)
    record(calls_api, ticket["reference_code"], CALLBACK)
    record(calls_api, ticket["reference_code"], leg())
    calls = calls_api.detail(ticket["id"])["calls"]
    task = next(c for c in calls if c["kind"] == "callback")
    a_leg = next(c for c in calls if c["kind"] == "leg")
    base = f"/api/v1/tickets/{ticket['id']}/callbacks"
    body = {"outcome": "reached"}
    assert calls_api.post("operator", f"{base}/{a_leg['id']}", json=body).status_code == 404
    assert calls_api.post("border", f"{base}/{task['id']}", json=body).status_code == 404
    assert calls_api.post("partner", f"{base}/{task['id']}", json=body).status_code == 403
    assert (
        calls_api.post("operator", f"{base}/{task['id']}", json={"outcome": "x"}).status_code == 422
    )
    other = voice_ticket(calls_api)
    wrong = f"/api/v1/tickets/{other['id']}/callbacks/{task['id']}"
    assert calls_api.post("operator", wrong, json=body).status_code == 404


def test_staff_play_a_recording_fetched_with_the_servers_credentials(
    calls_api: Api, twilio: FakeTwilio
) -> None:
    ticket = voice_ticket(calls_api)
    assert record(calls_api, ticket["reference_code"], RECORDING).status_code == 201
    [call] = calls_api.detail(ticket["id"])["calls"]
    assert call["has_recording"] and call["duration_seconds"] == 48
    assert "recording_url" not in call  # the platform's address stays on the server

    audio = calls_api.get("operator", f"/api/v1/tickets/{ticket['id']}/recordings/{call['id']}")
    assert audio.status_code == 200, audio.text
    assert audio.headers["content-type"] == "audio/mpeg"
    assert audio.headers["cache-control"] == "no-store"
    assert audio.content == FAKE_MP3
    [fetch] = [r for r in twilio.requests if r.path.endswith(".mp3")]
    assert fetch.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{RECORDING_SID}.mp3"
    assert fetch.basic_auth == (ACCOUNT_SID, AUTH_TOKEN)
    listened = calls_api.audit(actor="operator")
    assert any(a["action"] == "listen" and a["ticket_id"] == ticket["id"] for a in listened)


def test_a_recording_is_played_only_for_those_who_may_see_the_ticket(
    calls_api: Api, twilio: FakeTwilio
) -> None:
    ticket = voice_ticket(calls_api)
    record(calls_api, ticket["reference_code"], RECORDING)
    record(calls_api, ticket["reference_code"], leg())
    calls = calls_api.detail(ticket["id"])["calls"]
    recording = next(c for c in calls if c["kind"] == "recording")
    a_leg = next(c for c in calls if c["kind"] == "leg")
    url = f"/api/v1/tickets/{ticket['id']}/recordings"
    assert calls_api.get("border", f"{url}/{recording['id']}").status_code == 404
    assert calls_api.get("partner", f"{url}/{recording['id']}").status_code == 403
    assert calls_api.get("bot", f"{url}/{recording['id']}").status_code == 403
    assert calls_api.get("admin", f"{url}/{recording['id']}").status_code == 403
    assert calls_api.get("operator", f"{url}/{a_leg['id']}").status_code == 404
    assert calls_api.client.get(f"{url}/{recording['id']}").status_code == 401
    assert not [r for r in twilio.requests if r.path.endswith(".mp3")]


def test_a_recording_deleted_at_twilio_is_404(calls_api: Api, twilio: FakeTwilio) -> None:
    ticket = voice_ticket(calls_api)
    record(calls_api, ticket["reference_code"], RECORDING)
    [call] = calls_api.detail(ticket["id"])["calls"]
    twilio.recordings.clear()
    answer = calls_api.get("operator", f"/api/v1/tickets/{ticket['id']}/recordings/{call['id']}")
    assert answer.status_code == 404
    assert "detail" in answer.json()


@pytest.mark.parametrize(
    "settings",
    [
        {},  # no Twilio credentials on the API
        {
            "twilio_account_sid": ACCOUNT_SID,
            "twilio_auth_token": AUTH_TOKEN,
            "twilio_api_base": closed_port_url(),
        },
    ],
)
def test_a_recording_that_cannot_be_fetched_is_503(
    engine: Engine, tmp_path: Path, settings: dict[str, Any]
) -> None:
    api = voice_api(engine, tmp_path, **settings)
    with api.client:
        ticket = voice_ticket(api)
        record(api, ticket["reference_code"], RECORDING)
        [call] = api.detail(ticket["id"])["calls"]
        answer = api.get("operator", f"/api/v1/tickets/{ticket['id']}/recordings/{call['id']}")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "30"
    assert "recording" in answer.json()["detail"]


def test_statistics_count_calls_like_the_other_channels(calls_api: Api) -> None:
    answered = voice_ticket(calls_api)
    record(calls_api, answered["reference_code"], leg("no-answer"))
    record(calls_api, answered["reference_code"], leg("answered", key="leg-fallback"))
    missed = voice_ticket(calls_api)
    record(calls_api, missed["reference_code"], leg("busy"))
    record(calls_api, missed["reference_code"], CALLBACK)
    calls_api.new_ticket(channel="voice", priority="P2", category="out_of_scope")
    calls_api.new_ticket(channel="telegram")

    stats = calls_api.get("supervisor", "/api/v1/stats").json()
    assert stats["calls"] == {"received": 3, "classified": 2, "answered": 1, "missed": 1}
    by_channel = {row["key"]: row["tickets"] for row in stats["by_channel"]}
    assert by_channel["voice"] == 3
    narrowed = calls_api.get("supervisor", "/api/v1/stats", params={"channel": "telegram"}).json()
    assert narrowed["calls"] == {"received": 0, "classified": 0, "answered": 0, "missed": 0}


def test_the_periodic_report_counts_calls(calls_api: Api) -> None:
    import csv
    import io
    from datetime import datetime

    from intake_api.schemas import DISPLAY_ZONE

    missed = voice_ticket(calls_api)
    record(calls_api, missed["reference_code"], CALLBACK)
    year = datetime.now(DISPLAY_ZONE).year  # the report's periods are local
    answer = calls_api.get("supervisor", f"/api/v1/reports/{year}/year", params={"format": "csv"})
    assert answer.status_code == 200, answer.text
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    figures = {row[1]: row[2] for row in rows if len(row) >= 3}
    assert figures["Số cuộc gọi đường dây nóng"] == "1"
    assert figures["Số cuộc gọi nhỡ, bỏ dở, ngoài giờ (cần gọi lại)"] == "1"
    assert figures["Số cuộc gọi có cán bộ nghe máy"] == "0"
