"""Rescue: numbers and a P1 ticket on the first message, then one question at a time."""

from __future__ import annotations

from tests.bot.dialogue.fakes import Harness, ent

RESCUE_TEXT = "cuu em voi, em bi nhot o cam"


def script_rescue(bot: Harness) -> None:
    bot.nlu.add(RESCUE_TEXT, "request_rescue", 0.97, ent("country", "Campuchia", "cam"))


def test_rescue_first_reply_gives_113_111_and_code_and_files_p1_on_first_message(bot):
    script_rescue(bot)
    turn = bot.send(RESCUE_TEXT)

    assert len(bot.intake.submitted) == 1
    code, draft = bot.intake.submitted[0]
    assert draft.triage["priority"] == "P1"
    assert draft.country == "Campuchia"
    assert draft.transcript[0].text == RESCUE_TEXT and draft.transcript[0].direction == "in"
    first = turn.replies[0].text
    assert "113" in first and "111" in first and code in first
    # The safety line, then exactly one question.
    assert turn.replies[1].text == bot.says("rescue.safety")
    assert turn.replies[2].text == bot.says("rescue.ask_location_detail", place="Campuchia")
    assert len(turn.replies) == 3


def test_rescue_questions_come_one_at_a_time_and_answers_update_the_same_ticket(bot):
    script_rescue(bot)
    bot.send(RESCUE_TEXT)
    code = bot.intake.submitted[0][0]

    turn = bot.send(None, location=(11.5564, 104.9282))  # a Telegram location share
    assert bot.texts(turn) == [bot.says("rescue.ask_companions")]
    bot.nlu.add("co 5 nguoi nua", "ask_info", 0.7, ent("person_count", "5", "5"))
    turn = bot.send("co 5 nguoi nua")
    assert bot.texts(turn) == [bot.says("rescue.ask_contact")]
    assert turn.replies[0].quick_replies  # "only message me here" and "skip" buttons
    bot.nlu.add(
        "so em 0912 345 678", "out_of_scope", 0.8, ent("phone", "+84912345678", "0912 345 678")
    )
    turn = bot.send("so em 0912 345 678")
    assert bot.texts(turn) == [bot.says("rescue.done", code=code)]

    assert len(bot.intake.submitted) == 1, "answers never file a second ticket"
    updates = bot.intake.updates_for(code)
    assert [u.message_id for u in updates] == ["m2", "m3", "m4"]
    assert all(u.priority == "P1" for u in updates)
    assert updates[0].text.startswith("geo:11.556400,104.928200")
    assert updates[0].extra["location"] == {"lat": 11.5564, "lon": 104.9282}
    assert updates[1].text == "co 5 nguoi nua"
    assert updates[2].phone == "+84912345678"
    assert bot.state["flow"] == "idle" and bot.state["ticket"] == code


def test_an_answer_is_taken_as_the_answer_even_when_the_nlu_is_unsure(bot):
    bot.nlu.add("cuu toi", "request_rescue", 0.9)
    bot.send("cuu toi")
    code = bot.intake.submitted[0][0]
    bot.nlu.add("o gan cho", "ask_hotline", 0.43)  # low confidence, wrong intent
    turn = bot.send("o gan cho")
    assert bot.texts(turn) == [bot.says("rescue.ask_companions")]
    assert bot.intake.updates_for(code)[0].text == "o gan cho"


def test_a_location_sent_during_another_question_is_kept_and_that_question_asked_again(bot):
    bot.nlu.add("cuu toi", "request_rescue", 0.9)
    bot.send("cuu toi")
    bot.send("bỏ qua")  # skips "where?"
    turn = bot.send(None, location=(10.0, 105.0))
    assert bot.texts(turn) == [
        bot.says("rescue.location_received"),
        bot.says("rescue.ask_companions"),
    ]


def test_skipping_rescue_questions_sends_nothing_and_moves_on(bot):
    bot.nlu.add("cuu toi", "request_rescue", 0.9)
    bot.send("cuu toi")
    assert bot.texts(bot.send("bo qua")) == [bot.says("rescue.ask_companions")]
    assert bot.texts(bot.send("skip")) == [bot.says("rescue.ask_contact")]
    turn = bot.send("Bỏ qua")
    assert bot.texts(turn)[0] == bot.says("rescue.done", code=bot.intake.submitted[0][0])
    assert bot.intake.updates == []


def test_rescue_never_asks_what_the_first_message_already_said(bot):
    bot.nlu.add(
        "cuu, 3 nguoi bi nhot",
        "request_rescue",
        0.9,
        ent("person_count", "3", "3"),
    )
    turn = bot.send("cuu, 3 nguoi bi nhot", location=(11.0, 104.0))
    assert bot.texts(turn)[-1] == bot.says("rescue.ask_contact")


def test_a_message_triage_rates_p1_starts_the_rescue_whatever_its_intent(bot):
    text = "con gai toi 15 tuoi mat lien lac"
    bot.nlu.add(text, "report_missing", 0.9, ent("age", "15", "15"))
    bot.triage.danger_texts.add(text)  # a child under 16 at risk: P1
    turn = bot.send(text)
    assert len(bot.intake.submitted) == 1
    code, draft = bot.intake.submitted[0]
    assert draft.triage["priority"] == "P1" and draft.triage["category"] == "report_missing"
    assert "113" in turn.replies[0].text and code in turn.replies[0].text


def test_a_tip_that_turns_urgent_switches_to_rescue_and_files_p1_at_once(bot):
    bot.nlu.add("toi muon bao tin", "report_trafficking", 0.9)
    bot.send("toi muon bao tin")
    bot.send("co nguoi du chi toi sang trung quoc")
    assert bot.intake.submitted == []
    urgent = "ho dang nhot chi ay, danh chi ay"
    bot.triage.danger_texts.add(urgent)
    turn = bot.send(urgent)
    assert len(bot.intake.submitted) == 1
    code, draft = bot.intake.submitted[0]
    assert draft.triage["priority"] == "P1"
    assert [line.text for line in draft.transcript if line.direction == "in"] == [
        "toi muon bao tin",
        "co nguoi du chi toi sang trung quoc",
        urgent,
    ]
    assert "113" in turn.replies[0].text and code in turn.replies[0].text
    assert bot.state["flow"] == "rescue"


def test_danger_in_a_filed_tip_raises_that_ticket_instead_of_filing_another(bot):
    bot.nlu.add("bao tin", "report_trafficking", 0.9)
    bot.send("bao tin")
    for _ in range(6):
        bot.send("bo qua")
    bot.nlu.add("khong", "deny", 0.99)
    bot.send("khong")
    code = bot.intake.submitted[0][0]
    urgent = "no vua bat chi ay len xe"
    bot.triage.danger_texts.add(urgent)
    turn = bot.send(urgent)
    assert len(bot.intake.submitted) == 1
    assert bot.intake.updates_for(code)[-1].priority == "P1"
    assert code in turn.replies[0].text and "113" in turn.replies[0].text


def test_when_filing_fails_the_person_still_gets_the_numbers_and_filing_is_retried(bot):
    bot.intake.fail_submits = 1
    bot.nlu.add("cuu toi", "request_rescue", 0.9)
    turn = bot.send("cuu toi")
    assert bot.texts(turn)[0] == bot.says("rescue.first_no_code")
    assert bot.intake.submitted == []
    turn = bot.send("o phnom penh")
    assert len(bot.intake.submitted) == 1
    code, draft = bot.intake.submitted[0]
    assert draft.triage["priority"] == "P1"
    assert "o phnom penh" in [line.text for line in draft.transcript]
    assert bot.texts(turn)[0] == bot.says("ticket.filed_late", code=code)


def test_a_rescue_request_inside_another_flow_keeps_its_intent_for_triage(bot):
    bot.nlu.add("toi can ho tro", "request_support", 0.9)
    bot.send("toi can ho tro")
    bot.nlu.add("cuu em, ho quay lai bat em", "request_rescue", 0.9)
    turn = bot.send("cuu em, ho quay lai bat em")
    assert bot.state["parses"][1]["intent"]["name"] == "request_rescue"
    assert "113" in turn.replies[0].text
    assert bot.intake.submitted[0][1].triage["priority"] == "P1"


def test_a_message_with_nothing_to_read_leaves_the_question_open(bot):
    bot.nlu.add("cuu toi", "request_rescue", 0.9)
    bot.send("cuu toi")
    turn = bot.send(None)  # a sticker or a photo without caption
    assert bot.texts(turn) == [bot.says("low_confidence")]
    assert bot.state["step"] == "ask_location"
    assert bot.intake.updates == []
