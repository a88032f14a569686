"""The hotline's webhooks one by one: TwiML read verb by verb, signatures checked with the twilio
library's own algorithm, replays absorbed, every leg's outcome on the ticket."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from bot.channels.voice.channel import EMPTY_TWIML
from bot.models import OutboxItem
from intake_api.crypto import get_cipher
from intake_api.db import make_engine
from intake_api.models import Ticket
from tests.bot.channels.voice.conftest import (
    CALLER,
    FALLBACK,
    ON_CALL,
    OPERATOR,
    OUR_NUMBER,
    PUBLIC_BASE,
    TOKEN,
    Hotline,
    call_records,
    events,
    make_hotline,
    signed,
    tickets,
    twiml,
)

CALL_SID = "CA" + "c" * 32


def form(**extra: str) -> dict[str, str]:
    values = {
        "AccountSid": "AC" + "1" * 32,
        "CallSid": CALL_SID,
        "From": CALLER,
        "To": OUR_NUMBER,
        "CallStatus": "in-progress",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }
    values.update(extra)
    return values


def post(hotline: Hotline, path: str, token: str = TOKEN, **extra: str) -> Any:
    body = form(**extra)
    return hotline.client.post(path, data=body, headers=signed(PUBLIC_BASE + path, body, token))


def verbs(root: Any) -> list[str]:
    return [child.tag for child in root]


def played(root: Any) -> list[str]:
    """Clip names of every <Play> (inside a Gather too), in order."""
    return [e.text.rsplit("/", 1)[-1] for e in root.iter("Play")]


# --- the greeting and the menu ------------------------------------------------------------


def test_an_incoming_call_hears_the_greeting_and_a_one_key_menu(hotline: Hotline) -> None:
    root = twiml(post(hotline, "/voice/incoming", CallStatus="ringing"))

    assert verbs(root) == ["Play", "Gather", "Redirect"]
    assert played(root) == ["prompt-greeting.wav", "prompt-menu.wav"]
    assert root[0].text == f"{PUBLIC_BASE}/voice/audio/prompt-greeting.wav"
    gather = root.find("Gather")
    assert gather is not None
    assert gather.attrib["input"] == "dtmf"
    assert gather.attrib["numDigits"] == "1"
    assert gather.attrib["action"] == f"{PUBLIC_BASE}/voice/menu"
    assert gather.attrib["actionOnEmptyResult"] == "true"
    assert [c.tag for c in gather] == ["Play"]
    assert root.find("Redirect").text == f"{PUBLIC_BASE}/voice/menu"  # type: ignore[union-attr]
    assert tickets(hotline.engine) == []  # a call that chose nothing yet files nothing yet


def test_the_played_prompts_are_served_by_the_app_as_8khz_mono_wav(hotline: Hotline) -> None:
    import io
    import wave

    root = twiml(post(hotline, "/voice/incoming"))
    for url in [e.text for e in root.iter("Play")]:
        answer = hotline.client.get(url.removeprefix(PUBLIC_BASE))  # type: ignore[union-attr]
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "audio/wav"
        with wave.open(io.BytesIO(answer.content)) as clip:
            assert (clip.getframerate(), clip.getnchannels()) == (8000, 1)
            assert clip.getnframes() > 8000  # more than a second of speech
    assert hotline.client.get("/voice/audio/..%2Fmanifest.wav").status_code == 404
    assert hotline.client.get("/voice/audio/nothing-here.wav").status_code == 404


def test_without_its_recording_a_prompt_is_said_in_vietnamese(
    engine: Any, transport: Any, empty_audio: Any
) -> None:
    line = make_hotline(engine, transport, voice_audio_dir=empty_audio)
    root = twiml(post(line, "/voice/incoming"))

    assert verbs(root) == ["Say", "Gather", "Redirect"]
    say = root[0]
    assert say.attrib == {"language": "vi-VN", "voice": "Google.vi-VN-Standard-A"}
    assert say.text == line.channel.speaker.wording.prompts["greeting"]
    assert "đường dây nóng" in (say.text or "")
    assert [c.tag for c in root.find("Gather")] == ["Say"]  # type: ignore[union-attr]


@pytest.mark.parametrize(("digits", "prompt"), [("", "no_input"), ("7", "wrong_key")])
def test_silence_or_a_wrong_key_repeats_the_menu(
    hotline: Hotline, digits: str, prompt: str
) -> None:
    post(hotline, "/voice/incoming")
    root = twiml(post(hotline, "/voice/menu", Digits=digits))

    assert verbs(root) == ["Play", "Gather", "Redirect"]
    assert played(root) == [f"prompt-{prompt}.wav", "prompt-menu.wav"]
    assert tickets(hotline.engine) == []


def test_a_caller_who_never_presses_is_forwarded_to_a_person(hotline: Hotline) -> None:
    post(hotline, "/voice/incoming")
    for _ in range(2):
        assert verbs(twiml(post(hotline, "/voice/menu"))) == ["Play", "Gather", "Redirect"]
    root = twiml(post(hotline, "/voice/menu"))

    assert verbs(root) == ["Play", "Dial"]
    assert root.find("Dial/Number").text == ON_CALL  # type: ignore[union-attr]
    [ticket] = tickets(hotline.engine)
    assert (ticket.priority, ticket.category, ticket.channel) == ("P2", "out_of_scope", "voice")


# --- 1: in danger now ---------------------------------------------------------------------


def test_key_1_files_a_p1_ticket_at_once_reads_its_code_twice_and_dials_on_call(
    hotline: Hotline,
) -> None:
    post(hotline, "/voice/incoming")
    root = twiml(post(hotline, "/voice/menu", Digits="1"))

    [ticket] = tickets(hotline.engine)
    assert (ticket.priority, ticket.category, ticket.channel) == ("P1", "request_rescue", "voice")
    assert ticket.reporter_phone == CALLER
    assert ticket.phone_hash == get_cipher().blind_index("phone", CALLER)
    characters = ticket.reference_code.replace("-", "")
    clips = played(root)
    assert clips[0] == "prompt-danger_filed.wav"
    spoken = [f"char-{c}.wav" for c in characters]
    assert clips[1:] == [
        "prompt-code_intro.wav",
        *spoken,
        "prompt-code_again.wav",
        *spoken,
        "prompt-connecting.wav",
    ]
    # Slowly: a pause after every character, both times.
    assert len(root.findall("Pause")) == 2 * len(characters)
    dial = root.find("Dial")
    assert dial is not None and verbs(root)[-1] == "Dial"
    assert dial.attrib["action"] == f"{PUBLIC_BASE}/voice/dial?leg=on_call"
    assert dial.attrib["callerId"] == OUR_NUMBER
    assert dial.attrib["timeout"] == "20"
    assert [n.text for n in dial.findall("Number")] == [ON_CALL]


def test_the_callers_number_is_stored_encrypted(hotline: Hotline) -> None:
    post(hotline, "/voice/incoming")
    post(hotline, "/voice/menu", Digits="1")
    with hotline.engine.connect() as conn:
        dumped = " ".join(
            str(row)
            for table in ("tickets", "bot_voice_calls", "bot_outbox")
            for row in conn.execute(text(f"SELECT * FROM {table}"))
        )
    assert CALLER not in dumped
    assert CALLER.removeprefix("+") not in dumped


def test_an_unanswered_on_call_leg_goes_to_the_fallback_then_to_voicemail_and_a_call_back(
    hotline: Hotline,
) -> None:
    post(hotline, "/voice/incoming")
    post(hotline, "/voice/menu", Digits="1")

    busy = twiml(post(hotline, "/voice/dial?leg=on_call", DialCallStatus="busy"))
    assert played(busy) == ["prompt-fallback_connecting.wav"]
    dial = busy.find("Dial")
    assert dial is not None
    assert dial.attrib["action"] == f"{PUBLIC_BASE}/voice/dial?leg=fallback"
    assert [n.text for n in dial.findall("Number")] == [FALLBACK]

    nobody = twiml(post(hotline, "/voice/dial?leg=fallback", DialCallStatus="no-answer"))
    assert verbs(nobody) == ["Play", "Record", "Play", "Hangup"]
    assert played(nobody) == ["prompt-voicemail.wav", "prompt-no_recording.wav"]
    record = nobody.find("Record")
    assert record is not None
    assert record.attrib["action"] == f"{PUBLIC_BASE}/voice/recorded?purpose=voicemail"
    assert record.attrib["maxLength"] == "180"
    assert (
        record.attrib["recordingStatusCallback"]
        == f"{PUBLIC_BASE}/voice/recording?purpose=voicemail"
    )

    [ticket] = tickets(hotline.engine)
    assert events(hotline.engine, ticket.id, "call_") == [
        ("call_leg", "on_call", "busy"),
        ("call_leg", "fallback", "no-answer"),
    ]
    assert events(hotline.engine, ticket.id, "callback") == [("callback_needed", None, "missed")]
    [task] = [r for r in call_records(hotline.engine, ticket.id) if r.kind == "callback"]
    assert (task.state, task.target) == ("open", "missed")


def test_an_answered_leg_is_an_event_and_ends_the_call_flow(hotline: Hotline) -> None:
    post(hotline, "/voice/incoming")
    post(hotline, "/voice/menu", Digits="1")
    root = twiml(
        post(hotline, "/voice/dial?leg=on_call", DialCallStatus="completed", DialCallDuration="95")
    )
    assert verbs(root) == ["Hangup"]
    assert twiml(post(hotline, "/voice/status", CallStatus="completed")) is not None

    [ticket] = tickets(hotline.engine)
    assert events(hotline.engine, ticket.id, "call_") == [("call_leg", "on_call", "answered")]
    assert events(hotline.engine, ticket.id, "callback") == []  # a person answered
    [leg] = call_records(hotline.engine, ticket.id)
    assert leg.duration_seconds == 95


def test_a_danger_call_after_other_choices_raises_its_ticket_to_p1(hotline: Hotline) -> None:
    post(hotline, "/voice/incoming")
    post(hotline, "/voice/menu", Digits="2")
    [before] = tickets(hotline.engine)
    assert before.priority == "P2"

    post(hotline, "/voice/menu", Digits="1")
    [after] = tickets(hotline.engine)
    assert after.id == before.id
    assert after.priority == "P1"


# --- 2: a recorded report -----------------------------------------------------------------


def test_key_2_records_and_the_recording_reaches_the_ticket_with_its_length(
    hotline: Hotline,
) -> None:
    post(hotline, "/voice/incoming")
    root = twiml(post(hotline, "/voice/menu", Digits="2"))
    assert verbs(root) == ["Play", "Record", "Play", "Hangup"]
    record = root.find("Record")
    assert record is not None
    assert record.attrib["action"] == f"{PUBLIC_BASE}/voice/recorded?purpose=report"
    assert record.attrib["maxLength"] == "180"
    assert record.attrib["finishOnKey"] == "#"
    assert record.attrib["playBeep"] == "true"

    sid = "RE" + "a" * 32
    url = f"https://api.twilio.com/2010-04-01/Accounts/{'AC' + '1' * 32}/Recordings/{sid}"
    done = twiml(
        post(
            hotline,
            "/voice/recorded?purpose=report",
            RecordingSid=sid,
            RecordingUrl=url,
            RecordingDuration="64",
            Digits="#",
        )
    )
    [ticket] = tickets(hotline.engine)
    assert (ticket.priority, ticket.category) == ("P2", "report_trafficking")
    code_clips = [f"char-{c}.wav" for c in ticket.reference_code.replace("-", "")]
    assert played(done) == [
        "prompt-record_thanks.wav",
        "prompt-code_intro.wav",
        *code_clips,
        "prompt-code_again.wav",
        *code_clips,
        "prompt-goodbye.wav",
    ]
    assert verbs(done)[-1] == "Hangup"
    [recording] = call_records(hotline.engine, ticket.id)
    assert (recording.kind, recording.target, recording.duration_seconds) == (
        "recording",
        "report",
        64,
    )
    assert recording.recording_sid == sid
    assert recording.recording_url == url
    assert events(hotline.engine, ticket.id, "call_recording") == [
        ("call_recording", "report", "64 s")
    ]


# --- 3: information -----------------------------------------------------------------------


def test_key_3_speaks_the_chats_own_answers_and_files_a_ticket_without_call_back(
    engine: Any, transport: Any, empty_audio: Any
) -> None:
    from bot.config import BotSettings
    from bot.dialogue.wording import Wording

    line = make_hotline(engine, transport, voice_audio_dir=empty_audio)
    chat = Wording.load(BotSettings().nlu_data_dir)
    post(line, "/voice/incoming")
    menu = twiml(post(line, "/voice/menu", Digits="3"))
    assert menu.find("Gather").attrib["action"] == f"{PUBLIC_BASE}/voice/info"  # type: ignore[union-attr]

    hotlines = twiml(post(line, "/voice/info", Digits="1"))
    expected = chat.faq.named("hotlines").answer.format(
        trafficking_24_7="111", police_emergency="113"
    )
    assert hotlines[0].tag == "Say"
    assert hotlines[0].text == expected.strip()
    rights = twiml(post(line, "/voice/info", Digits="2"))
    assert rights[0].text == chat.faq.named("rights").answer.strip()
    offers = twiml(post(line, "/voice/info", Digits="3"))
    assert offers[0].text == chat.text("offer.warning_signs")
    back = twiml(post(line, "/voice/info", Digits="9"))
    assert back.find("Gather").attrib["action"] == f"{PUBLIC_BASE}/voice/menu"  # type: ignore[union-attr]

    assert tickets(engine) == []
    post(line, "/voice/status", CallStatus="completed")
    [ticket] = tickets(engine)
    assert (ticket.priority, ticket.category) == ("P3", "ask_info")
    assert events(engine, ticket.id, "callback") == []


# --- 0: an operator -----------------------------------------------------------------------


def test_key_0_dials_the_operators_desk(hotline: Hotline) -> None:
    post(hotline, "/voice/incoming")
    root = twiml(post(hotline, "/voice/menu", Digits="0"))
    assert played(root) == ["prompt-operator_connecting.wav"]
    assert [n.text for n in root.findall("Dial/Number")] == [OPERATOR]
    [ticket] = tickets(hotline.engine)
    assert (ticket.priority, ticket.category) == ("P2", "request_support")


# --- the call's end -----------------------------------------------------------------------


def test_a_caller_who_hangs_up_before_choosing_is_owed_a_call_back(hotline: Hotline) -> None:
    post(hotline, "/voice/incoming")
    answer = post(hotline, "/voice/status", CallStatus="completed")
    assert answer.status_code == 200
    assert answer.text == EMPTY_TWIML

    [ticket] = tickets(hotline.engine)
    assert (ticket.priority, ticket.category, ticket.channel) == ("P2", "out_of_scope", "voice")
    assert events(hotline.engine, ticket.id, "callback") == [("callback_needed", None, "abandoned")]


def test_a_status_callback_that_is_not_the_end_changes_nothing(hotline: Hotline) -> None:
    post(hotline, "/voice/incoming")
    assert post(hotline, "/voice/status", CallStatus="ringing").status_code == 200
    assert tickets(hotline.engine) == []


# --- forged and replayed ------------------------------------------------------------------


ROUTES = [
    "/voice/incoming",
    "/voice/menu",
    "/voice/info",
    "/voice/dial?leg=on_call",
    "/voice/recorded?purpose=report",
    "/voice/recording?purpose=report",
    "/voice/status",
]


@pytest.mark.parametrize("path", ROUTES)
def test_a_forged_signature_is_refused_on_every_webhook(hotline: Hotline, path: str) -> None:
    body = form(Digits="1", CallStatus="completed", DialCallStatus="no-answer")
    forged = signed(PUBLIC_BASE + path, body, token="0" * 32)
    assert hotline.client.post(path, data=body, headers=forged).status_code == 403
    tampered = signed(PUBLIC_BASE + path, body)
    assert (
        hotline.client.post(path, data={**body, "Digits": "2"}, headers=tampered).status_code == 403
    )
    elsewhere = signed(PUBLIC_BASE + "/voice/other", body)
    assert hotline.client.post(path, data=body, headers=elsewhere).status_code == 403
    assert hotline.client.post(path, data=body).status_code == 403
    assert tickets(hotline.engine) == []


def test_a_signature_over_the_internal_url_is_refused(hotline: Hotline) -> None:
    body = form()
    headers = signed("http://testserver/voice/incoming", body)
    assert hotline.client.post("/voice/incoming", data=body, headers=headers).status_code == 403


def test_replayed_callbacks_are_absorbed(hotline: Hotline) -> None:
    for _ in range(2):
        post(hotline, "/voice/incoming")
    first = post(hotline, "/voice/menu", Digits="1")
    again = post(hotline, "/voice/menu", Digits="1")
    assert again.text == first.text  # the same code read back: one ticket
    for _ in range(2):
        post(hotline, "/voice/dial?leg=on_call", DialCallStatus="no-answer")
        post(hotline, "/voice/dial?leg=fallback", DialCallStatus="failed")
    sid = "RE" + "b" * 32
    recording = {
        "RecordingSid": sid,
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/AC{'1' * 32}/Recordings/{sid}",
        "RecordingDuration": "12",
    }
    for _ in range(2):
        post(hotline, "/voice/recorded?purpose=voicemail", **recording)
        post(
            hotline, "/voice/recording?purpose=voicemail", RecordingStatus="completed", **recording
        )
        post(hotline, "/voice/status", CallStatus="completed")

    [ticket] = tickets(hotline.engine)
    assert events(hotline.engine, ticket.id, "call_") == [
        ("call_leg", "on_call", "no-answer"),
        ("call_leg", "fallback", "failed"),
        ("call_recording", "voicemail", "12 s"),
    ]
    assert events(hotline.engine, ticket.id, "callback") == [("callback_needed", None, "missed")]
    assert [r.kind for r in call_records(hotline.engine, ticket.id)] == [
        "leg",
        "leg",
        "callback",
        "recording",
    ]


# --- failures behind the webhook ----------------------------------------------------------


def test_a_broken_database_still_answers_the_emergency_numbers_and_forwards(
    transport: Any, tmp_path: Any
) -> None:
    broken = make_engine(f"sqlite:///{tmp_path}/missing-dir/none.db")
    line = make_hotline(broken, transport)
    for path, extra in [("/voice/incoming", {}), ("/voice/menu", {"Digits": "1"})]:
        root = twiml(post(line, path, **extra))
        assert verbs(root) == ["Play", "Dial", "Hangup"]
        assert played(root) == ["prompt-emergency.wav"]
        assert root.find("Dial").text == ON_CALL  # type: ignore[union-attr]
    said = line.channel.speaker.wording.prompts["emergency"]
    assert "113" in said and "111" in said
    # A status callback cannot be acted on: Twilio is told to try again, never "done".
    assert post(line, "/voice/status", CallStatus="completed").status_code == 503


def test_a_signed_request_naming_no_call_still_gets_emergency_twiml(hotline: Hotline) -> None:
    body = {"AccountSid": "AC" + "1" * 32, "From": CALLER}
    headers = signed(PUBLIC_BASE + "/voice/incoming", body)
    root = twiml(hotline.client.post("/voice/incoming", data=body, headers=headers))
    assert [c.tag for c in root] == ["Play", "Dial", "Hangup"]


def test_the_api_being_down_loses_no_danger_call(hotline: Hotline, transport: Any) -> None:
    transport.down = True
    post(hotline, "/voice/incoming")
    root = twiml(post(hotline, "/voice/menu", Digits="1"))
    assert root.find("Dial") is not None  # the caller is forwarded all the same
    post(hotline, "/voice/dial?leg=on_call", DialCallStatus="no-answer")
    assert tickets(hotline.engine) == []

    transport.down = False
    with Session(hotline.engine) as session:
        [code] = {item.reference_code for item in session.exec(select(OutboxItem))}
    # The outbox's next round (its back-off is over): the ticket first, then the leg.
    hotline.intake.outbox.deliver_pending(reference_code=code)
    [ticket] = tickets(hotline.engine)
    assert ticket.reference_code == code
    assert ticket.priority == "P1"
    assert events(hotline.engine, ticket.id, "call_") == [("call_leg", "on_call", "no-answer")]
    with Session(hotline.engine) as session:
        assert session.get(Ticket, ticket.id) is not None


def test_the_same_key_pressed_on_two_workers_at_once_files_one_ticket(hotline: Hotline) -> None:
    """Twilio's retry of a menu request can reach another worker while the first still works
    on it: both answer the call, one ticket is filed, one leg event recorded."""
    from concurrent.futures import ThreadPoolExecutor

    from bot.channels.voice.flow import CallParams

    flow = hotline.channel.flow
    params = CallParams(call_sid=CALL_SID, caller=CALLER, called=OUR_NUMBER, digits="1")
    flow.incoming(params)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: flow.menu(params), range(4)))
    assert len(tickets(hotline.engine)) == 1
    code = tickets(hotline.engine)[0].reference_code
    for answer in answers:
        assert "<Dial" in answer
        assert answer.count(f"char-{code[-1]}.wav") >= 2
    leg = CallParams(call_sid=CALL_SID, dial_status="busy")
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: flow.dial_done(leg, "on_call"), range(4)))
    [ticket] = tickets(hotline.engine)
    assert events(hotline.engine, ticket.id, "call_") == [("call_leg", "on_call", "busy")]
