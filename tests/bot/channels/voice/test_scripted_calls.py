"""Whole calls, played by the local fake of Twilio's voice side (`FakeCall`): each menu branch
reached as a caller would reach it, and the ticket each call leaves. Also a call whose steps
land on two app instances (a restart, another process) on the same database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.models import VoiceCall
from intake_api.models import CallRecord
from tests.bot.channels.fake_twilio import HANGUP
from tests.bot.channels.voice.conftest import (
    CALLER,
    FALLBACK,
    ON_CALL,
    OPERATOR,
    Hotline,
    call_records,
    events,
    make_hotline,
    tickets,
)


def dialled(call: Any) -> list[str]:
    return [
        number.text
        for document in call.documents
        for number in document.iter("Number")
        if number.text
    ]


def test_danger_nobody_answers_voicemail_and_a_call_back(hotline: Hotline) -> None:
    call = hotline.call(keys=["1"], legs=["no-answer", "busy"], recordings=[23]).dial_in()

    assert dialled(call) == [ON_CALL, FALLBACK]
    assert "Record" in call.verbs()
    [ticket] = tickets(hotline.engine)
    assert (ticket.priority, ticket.category, ticket.channel) == ("P1", "request_rescue", "voice")
    assert ticket.reporter_phone == CALLER
    assert events(hotline.engine, ticket.id, "call_") == [
        ("call_leg", "on_call", "no-answer"),
        ("call_leg", "fallback", "busy"),
        ("call_recording", "voicemail", "23 s"),
    ]
    assert events(hotline.engine, ticket.id, "callback") == [("callback_needed", None, "missed")]
    # The code was read back twice before the forwarding, character by character.
    said = call.said()
    characters = [f"char-{c}.wav" for c in ticket.reference_code.replace("-", "")]
    start = said.index("prompt-code_intro.wav")
    assert said[start + 1 : start + 1 + len(characters)] == characters
    assert said.count("prompt-code_again.wav") >= 1


def test_danger_answered_on_call(hotline: Hotline) -> None:
    hotline.call(keys=["1"], legs=["completed"]).dial_in()

    [ticket] = tickets(hotline.engine)
    assert ticket.priority == "P1"
    assert events(hotline.engine, ticket.id, "call_") == [("call_leg", "on_call", "answered")]
    assert events(hotline.engine, ticket.id, "callback") == []


def test_report_recorded_with_its_code_read_back(hotline: Hotline) -> None:
    call = hotline.call(keys=["2"], recordings=[75]).dial_in()

    [ticket] = tickets(hotline.engine)
    assert (ticket.priority, ticket.category) == ("P2", "report_trafficking")
    [recording] = call_records(hotline.engine, ticket.id)
    assert (recording.kind, recording.target, recording.duration_seconds) == (
        "recording",
        "report",
        75,
    )
    assert recording.recording_sid == call.recorded_sids[0]
    assert "prompt-record_thanks.wav" in call.said()
    assert call.said()[-1] == "prompt-goodbye.wav"
    assert events(hotline.engine, ticket.id, "callback") == []


def test_report_without_a_word_recorded_is_owed_a_call_back(hotline: Hotline) -> None:
    call = hotline.call(keys=["2"], recordings=[None]).dial_in()

    [ticket] = tickets(hotline.engine)
    assert call_records(hotline.engine, ticket.id)[0].kind == "callback"
    assert "prompt-no_recording.wav" in call.said()
    assert events(hotline.engine, ticket.id, "callback") == [("callback_needed", None, "abandoned")]


def test_information_then_back_to_the_menu_and_hang_up(hotline: Hotline) -> None:
    call = hotline.call(keys=["3", "1", "2", "3", "9", HANGUP]).dial_in()

    said = call.said()
    assert [s for s in said if s.startswith("info-")] == ["info-1.wav", "info-2.wav", "info-3.wav"]
    [ticket] = tickets(hotline.engine)
    assert (ticket.priority, ticket.category) == ("P3", "ask_info")
    assert call_records(hotline.engine, ticket.id) == []


def test_information_then_danger(hotline: Hotline) -> None:
    hotline.call(keys=["3", "9", "1"], legs=["completed"]).dial_in()
    [ticket] = tickets(hotline.engine)
    assert (ticket.priority, ticket.category) == ("P1", "request_rescue")


def test_operator_busy_then_fallback_answers(hotline: Hotline) -> None:
    call = hotline.call(keys=["0"], legs=["busy", "completed"]).dial_in()

    assert dialled(call) == [OPERATOR, FALLBACK]
    [ticket] = tickets(hotline.engine)
    assert (ticket.priority, ticket.category) == ("P2", "request_support")
    assert events(hotline.engine, ticket.id, "call_") == [
        ("call_leg", "on_call", "busy"),
        ("call_leg", "fallback", "answered"),
    ]
    assert events(hotline.engine, ticket.id, "callback") == []


def test_silent_caller_is_forwarded_and_called_back_when_nobody_answers(hotline: Hotline) -> None:
    call = hotline.call(keys=[None, None, None], legs=["no-answer", "no-answer"]).dial_in()

    assert dialled(call) == [ON_CALL, FALLBACK]
    [ticket] = tickets(hotline.engine)
    assert ticket.category == "out_of_scope"
    assert events(hotline.engine, ticket.id, "callback") == [("callback_needed", None, "missed")]


def test_hang_up_while_forwarded_is_a_missed_call(hotline: Hotline) -> None:
    hotline.call(keys=["1"], legs=[HANGUP]).dial_in()

    [ticket] = tickets(hotline.engine)
    assert ticket.priority == "P1"
    assert events(hotline.engine, ticket.id, "call_") == [("call_leg", "on_call", "canceled")]
    assert events(hotline.engine, ticket.id, "callback") == [("callback_needed", None, "missed")]


def test_hang_up_during_the_greeting_is_an_abandoned_call(hotline: Hotline) -> None:
    hotline.call(keys=[HANGUP]).dial_in()

    [ticket] = tickets(hotline.engine)
    assert (ticket.priority, ticket.category) == ("P2", "out_of_scope")
    assert events(hotline.engine, ticket.id, "callback") == [("callback_needed", None, "abandoned")]


def test_a_withheld_number_files_an_anonymous_ticket(hotline: Hotline) -> None:
    hotline.call(keys=["1"], legs=["completed"], caller="+266696687").dial_in()
    [ticket] = tickets(hotline.engine)
    assert ticket.anonymous
    assert ticket.reporter_phone is None


# --- outside the operators' hours --------------------------------------------------------

NIGHT = datetime(2026, 12, 2, 16, 30, tzinfo=UTC)  # 23:30 in Vietnam


@pytest.fixture
def night_line(engine: Any, transport: Any) -> Hotline:
    return make_hotline(engine, transport, clock=lambda: NIGHT, voice_hours="07:00-21:00")


def test_after_hours_the_caller_hears_so_and_key_0_takes_a_voicemail(night_line: Hotline) -> None:
    call = night_line.call(keys=["0"], recordings=[30]).dial_in()

    assert "prompt-after_hours.wav" in call.said()
    assert "prompt-operator_closed.wav" in call.said()
    assert dialled(call) == []
    [ticket] = tickets(night_line.engine)
    assert events(night_line.engine, ticket.id, "callback") == [
        ("callback_needed", None, "after_hours")
    ]
    assert [r.kind for r in call_records(night_line.engine, ticket.id)] == [
        "callback",
        "recording",
    ]


def test_after_hours_danger_is_still_forwarded_to_the_on_call_rota(night_line: Hotline) -> None:
    call = night_line.call(keys=["1"], legs=["no-answer", "no-answer"], recordings=[5]).dial_in()

    assert dialled(call) == [ON_CALL, FALLBACK]
    [ticket] = tickets(night_line.engine)
    assert ticket.priority == "P1"
    assert events(night_line.engine, ticket.id, "callback") == [
        ("callback_needed", None, "after_hours")
    ]


def test_after_hours_hang_up_is_an_after_hours_call_back(night_line: Hotline) -> None:
    night_line.call(keys=[HANGUP]).dial_in()
    [ticket] = tickets(night_line.engine)
    assert events(night_line.engine, ticket.id, "callback") == [
        ("callback_needed", None, "after_hours")
    ]


# --- a restart between two steps ----------------------------------------------------------


def test_a_new_instance_receives_the_recording_after_the_menu_and_loses_nothing(
    engine: Any, transport: Any
) -> None:
    """The menu step lands on one app instance, which then goes away (a crash, a deploy);
    the recording callback and the call's end land on a new instance on the same database."""
    first = make_hotline(engine, transport)
    call = first.call(keys=["2"])
    first_root = call._document("/voice/incoming")
    record_doc = call._document(first_root.find("Gather").attrib["action"], Digits="2")
    record = record_doc.find("Record")
    assert record is not None
    [filed] = tickets(engine)
    first.client.close()
    del first

    second = make_hotline(engine, transport)
    call.post = second.client.post
    sid = "RE" + "d" * 32
    recording = {
        "RecordingSid": sid,
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{call.account_sid}/Recordings/{sid}",
        "RecordingDuration": "41",
    }
    done = call._document(record.attrib["action"], **recording)
    # The new instance read the code back: it knew the call.
    characters = [f"char-{c}" for c in filed.reference_code.replace("-", "")]
    clips = [e.text.rsplit("/", 1)[-1].removesuffix(".wav") for e in done.iter("Play")]
    assert clips[1 : 2 + len(characters)] == ["prompt-code_intro", *characters]
    call.status = "completed"
    assert call.request("/voice/status", CallStatus="completed").status_code == 200

    [ticket] = tickets(engine)
    assert ticket.id == filed.id
    [attached] = call_records(engine, ticket.id)
    assert (attached.recording_sid, attached.duration_seconds) == (sid, 41)
    assert events(engine, ticket.id, "callback") == []
    with Session(engine) as session:
        row = session.exec(select(VoiceCall)).one()
        assert (row.recorded, row.ended, row.reference_code) == (True, True, ticket.reference_code)
        assert session.exec(select(CallRecord)).all() == [attached]


# --- a call whose end is never reported ---------------------------------------------------


async def test_a_call_whose_end_never_came_is_ended_by_the_sweep(
    engine: Any, transport: Any
) -> None:
    import asyncio

    line = make_hotline(engine, transport)
    call = line.call()
    call._document("/voice/incoming")
    answered = line.call()
    answered._document("/voice/incoming")
    assert tickets(engine) == []
    later = datetime.now(UTC) + timedelta(hours=6)
    line.channel._clock = lambda: later  # six hours on, no status callback came

    stop = asyncio.Event()
    sweeping = asyncio.create_task(line.channel.receive(None, stop))  # type: ignore[arg-type]
    for _ in range(100):
        if len(tickets(engine)) == 2:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await sweeping

    filed = tickets(engine)
    assert len(filed) == 2
    for ticket in filed:
        assert events(engine, ticket.id, "callback") == [("callback_needed", None, "abandoned")]
    assert line.channel.flow.sweep(later) == 0  # nothing left; a second sweep files nothing
    assert len(tickets(engine)) == 2


def test_no_log_line_of_a_call_names_the_caller(
    hotline: Hotline, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    hotline.call(keys=["7", "1"], legs=["busy", "no-answer"], recordings=[9]).dial_in()
    forged = hotline.client.post("/voice/menu", data={"CallSid": "CA" + "0" * 32, "From": CALLER})
    assert forged.status_code == 403
    printed = capsys.readouterr()
    logged = printed.out + printed.err + caplog.text
    assert "voice_ticket_filed" in logged  # the log was captured at all
    for shown in (CALLER, CALLER.removeprefix("+"), CALLER[-9:]):
        assert shown not in logged


def test_calls_are_counted_once_each_in_the_metrics(hotline: Hotline) -> None:
    from prometheus_client import REGISTRY

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = {
        "calls": value("hotline_voice_calls_total"),
        "answered": value("hotline_voice_calls_ended_total", outcome="answered"),
        "missed": value("hotline_voice_calls_ended_total", outcome="missed"),
        "information": value("hotline_voice_calls_ended_total", outcome="information"),
    }
    answered = hotline.call(keys=["1"], legs=["completed"]).dial_in()
    hotline.call(keys=["1"], legs=["no-answer", "no-answer"], recordings=[None]).dial_in()
    hotline.call(keys=["3", HANGUP]).dial_in()
    # Twilio's retry of a status callback and of the first request change nothing.
    answered.request("/voice/status", CallStatus="completed", CallDuration="42")
    answered.request("/voice/incoming", CallStatus="ringing")

    assert value("hotline_voice_calls_total") - before["calls"] == 3
    for outcome in ("answered", "missed", "information"):
        counted = value("hotline_voice_calls_ended_total", outcome=outcome) - before[outcome]
        assert counted == 1, outcome
