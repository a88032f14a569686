"""Phone calls in the console: the queue flags a caller owed a call-back, the ticket page lists
what the call left, plays its recording through the server and records a call-back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from intake_api.config import Settings
from tests.bot.channels.fake_twilio import FAKE_MP3, FakeTwilio
from tests.intake_api.conftest import make_settings
from tests.intake_api.console.conftest import Console
from tests.intake_api.console.test_ticket import act
from tests.intake_api.test_calls import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CALLBACK,
    RECORDING,
    RECORDING_SID,
    leg,
    record,
)


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio(ACCOUNT_SID, auth_token=AUTH_TOKEN).start()
    fake.recordings[RECORDING_SID] = FAKE_MP3
    yield fake
    fake.stop()


@pytest.fixture
def settings(tmp_path: Path, twilio: FakeTwilio) -> Settings:
    return make_settings(
        tmp_path,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_api_base=twilio.url,
    )


def missed_call(console: Console) -> dict[str, Any]:
    ticket = console.api.new_ticket(channel="voice", priority="P1", category="request_rescue")
    code = ticket["reference_code"]
    for body in (leg("no-answer"), CALLBACK, RECORDING):
        assert record(console.api, code, body).status_code == 201
    return ticket


def test_the_queue_flags_a_caller_owed_a_call_back(console: Console) -> None:
    ticket = missed_call(console)
    other = console.api.new_ticket(channel="voice", priority="P2")
    browser = console.sign_in("operator")
    html = browser.get("/console/queue/rows").json()["html"]
    row = html[html.index(f'id="t-{ticket["id"]}"') :]
    assert "Cần gọi lại" in row[: row.index("</tr>")]
    quiet = html[html.index(f'id="t-{other["id"]}"') :]
    assert "Cần gọi lại" not in quiet[: quiet.index("</tr>")]
    assert "Cần gọi lại" in browser.get("/console").text  # the page itself, not only the rows


def test_the_ticket_page_lists_the_call_and_a_call_back_clears_the_flag(console: Console) -> None:
    ticket = missed_call(console)
    browser = console.sign_in("operator")
    page = browser.get(f"/console/tickets/{ticket['id']}").text
    assert "Cuộc gọi" in page
    assert "Cán bộ trực: <strong>không nghe máy</strong>" in page
    assert "không ai nghe máy" in page
    calls = console.api.detail(ticket["id"])["calls"]
    task = next(c for c in calls if c["kind"] == "callback")
    recording = next(c for c in calls if c["kind"] == "recording")
    assert f'src="/console/tickets/{ticket["id"]}/recordings/{recording["id"]}"' in page
    assert f'action="/console/tickets/{ticket["id"]}/callbacks/{task["id"]}"' in page

    where = act(console, browser, ticket["id"], f"callbacks/{task['id']}", outcome="no_answer")
    assert "ok=called_back" in where
    assert console.api.detail(ticket["id"])["callback_due"]
    act(console, browser, ticket["id"], f"callbacks/{task['id']}", outcome="reached")
    detail = console.api.detail(ticket["id"])
    assert not detail["callback_due"]
    assert [e["to_value"] for e in detail["events"] if e["kind"] == "callback_made"] == [
        "no_answer",
        "reached",
    ]
    again = act(console, browser, ticket["id"], f"callbacks/{task['id']}", outcome="reached")
    assert "err=conflict" in again
    bad = act(console, browser, ticket["id"], f"callbacks/{task['id']}", outcome="maybe")
    assert "err=invalid" in bad
    page = browser.get(f"/console/tickets/{ticket['id']}").text
    assert "đã gọi lại (đã nói chuyện được), operator" in page


def test_the_page_plays_the_recording_through_the_server(
    console: Console, twilio: FakeTwilio
) -> None:
    ticket = missed_call(console)
    recording = next(
        c for c in console.api.detail(ticket["id"])["calls"] if c["kind"] == "recording"
    )
    url = f"/console/tickets/{ticket['id']}/recordings/{recording['id']}"
    browser = console.sign_in("operator")
    audio = browser.get(url)
    assert audio.status_code == 200
    assert audio.headers["content-type"] == "audio/mpeg"
    assert audio.content == FAKE_MP3
    assert any(a["action"] == "listen" for a in console.api.audit(actor="operator"))

    assert console.sign_in("border").get(url).status_code == 404
    assert console.browser().get(url, follow_redirects=False).status_code in (303, 401)
    twilio.recordings.clear()
    assert browser.get(url).status_code == 404


def test_the_dashboard_counts_calls(console: Console) -> None:
    missed_call(console)
    answered = console.api.new_ticket(channel="voice", priority="P2", category="request_support")
    record(console.api, answered["reference_code"], leg("answered"))
    page = console.sign_in("supervisor").get("/console/dashboard").text
    block = page[page.index('id="kpi-calls"') :]
    block = block[: block.index("</section>")]
    assert '<p class="big">2</p>' in block
    assert "có cán bộ nghe máy: 1" in block
    assert "nhỡ, cần gọi lại: 1" in block
