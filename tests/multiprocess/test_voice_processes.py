"""The voice hotline on real bot processes: a call whose menu step was answered by a worker
that was then killed (`kill -9`) goes on, on another worker, and loses nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bot.channels.fake_twilio import FakeCall
from tests.multiprocess.harness import Deployment, deployment

pytestmark = pytest.mark.slow
TOKEN = "0f" * 16
PUBLIC_BASE = "https://hotline.example.org"
VOICE = {
    "HOTLINE_TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "HOTLINE_TWILIO_AUTH_TOKEN": TOKEN,
    "HOTLINE_VOICE_ON_CALL": "+84901111111",
    "HOTLINE_VOICE_FALLBACK_NUMBER": "+84902222222",
    "HOTLINE_VOICE_HOURS": "00:00-24:00",
    "HOTLINE_PUBLIC_BASE_URL": PUBLIC_BASE,
}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Deployment]:
    with deployment(tmp_path) as found:
        found.env.update(VOICE)
        api = found.start("api", "api")
        found.start("bot1", "bot", extra_env={"HOTLINE_INTAKE_URL": api})
        found.start("bot2", "bot", extra_env={"HOTLINE_INTAKE_URL": api})
        yield found


def _wait(condition: Any, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_a_worker_killed_between_the_menu_and_the_recording_loses_nothing(
    stack: Deployment,
) -> None:
    target = {"url": stack.urls["bot1"]}

    def post(path: str, data: dict[str, str], headers: dict[str, str]) -> httpx.Response:
        return httpx.post(target["url"] + path, data=data, headers=headers, timeout=30)

    call = FakeCall(post=post, auth_token=TOKEN, public_base=PUBLIC_BASE)
    greeting = call._document("/voice/incoming")
    record = call._document(greeting.find("Gather").attrib["action"], Digits="2").find("Record")
    assert record is not None
    _wait(lambda: stack.sql("SELECT count(*) FROM tickets")[0][0] == 1)

    stack.kill("bot1")  # Twilio's next request reaches the other worker
    target["url"] = stack.urls["bot2"]
    sid = "RE" + "9" * 32
    done = call._document(
        record.attrib["action"],
        RecordingSid=sid,
        RecordingUrl=f"https://api.twilio.com/2010-04-01/Accounts/{call.account_sid}/Recordings/{sid}",
        RecordingDuration="52",
    )
    (code,) = stack.sql("SELECT reference_code FROM tickets")[0]
    clips = [p.text.rsplit("/", 1)[-1] for p in done.iter("Play") if p.text]
    assert f"char-{str(code)[-1]}.wav" in clips  # bot2 read back the code bot1 drew
    call.status = "completed"
    assert call.request("/voice/status", CallStatus="completed").status_code == 200

    _wait(lambda: stack.sql("SELECT count(*) FROM call_records")[0][0] == 1)
    time.sleep(1)  # nothing more arrives later
    assert stack.sql("SELECT kind, recording_sid, duration_seconds FROM call_records") == [
        ("recording", sid, 52)
    ]
    assert stack.sql("SELECT channel, priority, category FROM tickets") == [
        ("voice", "P2", "report_trafficking")
    ]
    assert stack.sql("SELECT count(*) FROM bot_outbox WHERE state <> 'delivered'")[0][0] == 0
    assert stack.sql("SELECT recorded, ended FROM bot_voice_calls") == [(True, True)]
