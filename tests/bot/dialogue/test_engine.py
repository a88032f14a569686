"""The engine's promises: it always answers, never raises, keeps state as JSON, erases on /xoa,
asks to rephrase when unsure, and never logs what people wrote."""

from __future__ import annotations

import json
import logging

import pytest

from bot.contract import InboundMessage
from tests.bot.dialogue.fakes import Harness, ent


@pytest.mark.parametrize("command", ["/xoa", "xoa", "/xóa", "xóa", "Xoá", " XOA "])
def test_erase_wipes_the_state_and_confirms_without_naming_anything(command):
    bot = Harness()
    bot.nlu.add("cuu toi", "request_rescue", 0.9)
    bot.send("cuu toi")
    turn = bot.send(command)
    assert turn.erase is True
    assert turn.state == {}
    assert bot.texts(turn) == [bot.says("erase.done")]
    assert command.strip() not in bot.nlu.calls, "the command is not even parsed"


def test_a_message_merely_containing_xoa_is_not_an_erase(bot):
    assert bot.send("xoa tin nhan kieu gi").erase is False


def test_low_confidence_asks_to_rephrase_with_the_hotline(bot):
    bot.nlu.add("abc xyz", "report_trafficking", 0.2)
    turn = bot.send("abc xyz")
    assert bot.texts(turn) == [bot.says("low_confidence")]
    assert "111" in turn.replies[0].text
    assert bot.intake.submitted == []


def test_out_of_scope_is_polite_and_gives_the_hotline(bot):
    bot.nlu.add("gia vang hom nay", "out_of_scope", 0.95)
    assert bot.texts(bot.send("gia vang hom nay")) == [bot.says("out_of_scope")]


@pytest.mark.parametrize(
    ("text", "intent", "key"),
    [
        ("xin chao", "greet", "smalltalk.greet"),
        ("cam on nhieu", "thank", "smalltalk.thank"),
        ("tam biet", "goodbye", "smalltalk.goodbye"),
        ("vang", "affirm", "smalltalk.yes_no"),
        ("khong", "deny", "smalltalk.yes_no"),
    ],
)
def test_small_talk(text, intent, key):
    bot = Harness()
    bot.nlu.add(text, intent, 0.98)
    assert bot.texts(bot.send(text)) == [bot.says(key)]


@pytest.mark.parametrize(
    "text",
    ["", "   ", "😀😀😀", "🆘", "a" * 10_000, "cứu " * 2_500, None, "\x00\ud800", "{code} {0}"],
)
def test_odd_messages_never_raise_and_always_get_an_answer(text):
    bot = Harness()
    turn = bot.send(text)
    assert turn.replies


def test_a_10000_character_message_is_kept_whole_in_the_ticket(bot):
    long_text = "ho nhot em " + "x" * 9_990
    bot.nlu.add(long_text, "request_rescue", 0.9)
    bot.send(long_text)
    draft = bot.intake.submitted[0][1]
    inbound = [line.text for line in draft.transcript if line.direction == "in"]
    assert "".join(inbound) == long_text
    assert all(len(t) <= 4000 for t in inbound)  # the intake API's line limit


def test_location_only_and_phone_only_messages(bot):
    turn = bot.send(None, location=(10.77, 106.70))
    assert bot.texts(turn) == [bot.says("location_no_context")]
    # A number alone is the person leaving it, not a message out of scope.
    bot.nlu.add("0912345678", "out_of_scope", 0.79, ent("phone", "+84912345678", "0912345678"))
    turn = bot.send("0912345678")
    assert bot.texts(turn) == [bot.says("phone_no_context")]


def test_a_location_that_is_not_a_number_is_ignored(bot):
    turn = bot.send(None, location=(float("nan"), 105.0))
    assert bot.texts(turn) == [bot.says("low_confidence")]


def test_a_location_shared_before_a_tip_spares_the_where_question(bot):
    bot.send(None, location=(10.77, 106.70))
    text = "co nguoi dan cac co gai tre di dau khong ro, toi thay nghi lam"
    bot.nlu.add(text, "report_trafficking", 0.9)
    turn = bot.send(text)
    assert bot.texts(turn)[-1] == bot.says("tip.ask_when")


def test_nlu_failure_still_answers_and_triage_still_sees_danger(bot):
    bot.nlu.fail = True
    turn = bot.send("ho dang nhot toi")
    assert bot.texts(turn) == [bot.says("low_confidence")]
    bot.triage.danger_texts.add("bi nhot o cam")
    turn = bot.send("bi nhot o cam")
    assert "113" in turn.replies[0].text
    assert len(bot.intake.submitted) == 1


def test_triage_failure_falls_back_to_the_nlu_and_still_files_a_routable_ticket(bot):
    bot.triage.fail = True
    bot.nlu.add("cuu toi", "request_rescue", 0.9)
    bot.send("cuu toi")
    draft = bot.intake.submitted[0][1]
    assert draft.triage["priority"] == "P1"
    assert draft.triage["agencies"]


def test_an_update_that_fails_is_kept_and_delivered_with_the_next_message(bot):
    bot.nlu.add("cuu toi", "request_rescue", 0.9)
    bot.send("cuu toi")
    code = bot.intake.submitted[0][0]
    bot.intake.fail_updates = 1
    bot.send("o kho 3")
    assert bot.intake.updates == []
    assert bot.state["pending_updates"]
    bot.send("bo qua")
    assert [u.text for u in bot.intake.updates_for(code)] == ["o kho 3"]
    assert bot.state["pending_updates"] == []


def test_an_internal_error_still_answers_with_the_hotlines(bot, monkeypatch):
    from bot.dialogue import engine

    def boom(ctx):
        raise ZeroDivisionError

    monkeypatch.setattr(engine, "route", boom)
    turn = bot.send("xin chao")
    assert bot.texts(turn) == [bot.says("error.fallback")]
    assert "111" in turn.replies[0].text and "113" in turn.replies[0].text
    assert bot.state["transcript"][-2]["text"] == "xin chao"


@pytest.mark.parametrize(
    "state",
    [
        {"v": 99, "ticket": "TIP-27K3Q"},
        {"v": 1, "flow": 5, "step": []},
        {"v": 1, "flow": "rescue", "step": "nonsense"},
        {"v": 1, "parses": "x"},
    ],
)
def test_a_damaged_or_old_state_never_stops_an_answer(state):
    bot = Harness()
    bot.state = state
    turn = bot.send("xin chao")
    assert turn.replies


def test_transcript_keeps_both_directions_with_iso_times(bot):
    bot.nlu.add("xin chao", "greet", 0.99)
    bot.send("xin chao")
    lines = bot.state["transcript"]
    assert [line["direction"] for line in lines] == ["in", "out"]
    assert lines[0]["text"] == "xin chao"
    assert lines[0]["at"] == "2025-09-01T08:00:30+00:00"
    assert bot.state["parses"][0]["intent"]["name"] == "greet"


def test_nothing_people_write_reaches_the_logs(bot, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "em ten Lan so 0912345678 bi nhot o Sihanoukville"
    bot.nlu.add(secret, "request_rescue", 0.9, ent("phone", "+84912345678", "0912345678"))
    bot.send(secret)
    bot.intake.fail_updates = 5
    bot.send("phong 12 tang 3")
    bot.nlu.fail = True
    bot.send("ten cai dau la Minh")
    logged = caplog.text + json.dumps([r.args for r in caplog.records], default=str)
    for fragment in ["Lan", "0912345678", "912345678", "Sihanoukville", "phong 12", "Minh"]:
        assert fragment not in logged


def test_respond_accepts_a_naive_timestamp():
    bot = Harness()
    message = InboundMessage(
        channel="sms",
        sender_id="+8491",
        message_id="x",
        text="hi",
        received_at=__import__("datetime").datetime(2025, 1, 1),
    )
    turn = bot.dialogue.respond({}, message, "c")
    assert turn.state["transcript"][0]["at"].endswith("+00:00")


def test_opening_the_chat_is_greeted_not_refused(bot):
    bot.nlu.add("/start", "out_of_scope", 0.9)
    turn = bot.send("/start")
    assert bot.texts(turn) == [bot.says("smalltalk.greet")]


def test_a_photo_without_words_is_answered_and_noted_on_the_open_ticket(bot):
    first = bot.send(None, attachment="photo")
    assert bot.texts(first) == [bot.says("media.reply")]
    bot.nlu.add("cuu em bi nhot o cam", "request_rescue", 0.95)
    bot.send("cuu em bi nhot o cam")
    code = bot.intake.submitted[0][0]
    step = bot.state["step"]
    turn = bot.send(None, attachment="voice")
    assert bot.texts(turn) == [bot.says("media.reply")]
    assert bot.state["step"] == step  # the open question is still open
    assert [u.text for c, u in bot.intake.updates if c == code] == [bot.says("media.note")]


OWN_NUMBER = "sdt cua em la 0912345678"
PHONE = ent("phone", "+84912345678", "0912345678")


def test_a_person_leaving_their_number_is_not_answered_with_the_hotline(bot):
    """The NLU reads "so dien thoai" as asking for our number; a number given is theirs."""
    bot.nlu.add(OWN_NUMBER, "ask_hotline", 0.97, PHONE)
    turn = bot.send(OWN_NUMBER)
    assert bot.texts(turn) == [bot.says("phone_no_context")]
    assert "0912345678" not in bot.joined(turn)  # never repeated back
    assert not bot.intake.submitted


def test_the_number_left_is_the_contact_of_the_request_that_follows(bot):
    bot.nlu.add(OWN_NUMBER, "ask_hotline", 0.97, PHONE)
    bot.send(OWN_NUMBER)
    text = "em can ho tro hoc nghe o Ha Tinh"
    bot.nlu.add(text, "request_support", 0.9, ent("province", "Hà Tĩnh", "Ha Tinh"))
    turn = bot.send(text)
    code, draft = bot.intake.submitted[0]
    # Not asked again for a number it was given.
    assert bot.texts(turn) == [bot.says("support.intro"), bot.says("support.filed", code=code)]
    assert draft.phone == "+84912345678" and draft.consent_to_contact is True


def test_a_rescue_after_a_number_was_left_files_it_and_does_not_ask_for_it(bot):
    bot.nlu.add(OWN_NUMBER, "ask_hotline", 0.97, PHONE)
    bot.send(OWN_NUMBER)
    bot.nlu.add("cuu em, em bi nhot", "request_rescue", 0.95)
    bot.send("cuu em, em bi nhot")
    _, draft = bot.intake.submitted[0]
    assert draft.phone == "+84912345678"
    asked = [bot.joined(t) for t in bot.turns]
    assert not any(bot.says("rescue.ask_contact") in a for a in asked)
    bot.nlu.add("khong biet", "out_of_scope", 0.6)
    for _ in range(3):  # every question the flow has left, answered or skipped
        turn = bot.send("khong biet")
        assert bot.says("rescue.ask_contact") not in bot.joined(turn)


def test_a_number_said_to_be_someone_elses_is_not_taken_as_the_persons_contact(bot):
    for text in ("sdt cua no la 0912345678", "so cua thang do 0912345678"):
        bot.nlu.add(text, "ask_hotline", 0.9, PHONE)
        turn = bot.send(text)
        assert bot.texts(turn) != [bot.says("phone_no_context")]
    text = "sdt cua me em 0912345678"
    bot.nlu.add(text, "ask_hotline", 0.9, ent("relation", "parent", "me"), PHONE)
    assert bot.texts(bot.send(text)) != [bot.says("phone_no_context")]
    assert bot.state.get("contact_phone") is None


def test_a_question_about_a_number_is_a_question(bot):
    text = "so 0912345678 co phai lua dao khong"
    bot.nlu.add(text, "ask_info", 0.9, PHONE)
    turn = bot.send(text)
    assert bot.texts(turn) != [bot.says("phone_no_context")]
    assert bot.state.get("contact_phone") is None


def test_a_number_inside_a_report_stays_part_of_the_report(bot):
    text = "co nguoi ru em gai sang trung quoc lam viec, so cua ho 0912345678"
    bot.nlu.add(text, "report_trafficking", 0.9, PHONE)
    turn = bot.send(text)
    assert bot.texts(turn) != [bot.says("phone_no_context")]
    assert bot.state["flow"] == "tip"
    assert bot.state.get("contact_phone") is None


def test_a_number_left_with_a_ticket_open_goes_to_the_ticket(bot):
    bot.nlu.add("cuu em, em bi nhot", "request_rescue", 0.95)
    bot.send("cuu em, em bi nhot")
    code = bot.intake.submitted[0][0]
    bot.state["flow"], bot.state["step"] = "idle", None  # the rescue's questions are done
    bot.nlu.add(OWN_NUMBER, "ask_hotline", 0.97, PHONE)
    turn = bot.send(OWN_NUMBER)
    assert bot.texts(turn) == [bot.says("ticket.appended", code=code)]
    assert bot.intake.updates_for(code)[-1].text == OWN_NUMBER
