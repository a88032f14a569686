"""Tip: questions one at a time, then exactly one ticket with the whole conversation."""

from __future__ import annotations

from tests.bot.dialogue.fakes import Harness, ent

REPORT = "nha ben canh co nguoi hay dan cac co gai tre sang tq lay chong"


def start_tip(bot: Harness) -> None:
    bot.nlu.add(REPORT, "report_trafficking", 0.93, ent("country", "Trung Quốc", "tq"))
    bot.send(REPORT)


def test_a_tip_over_five_messages_files_exactly_one_ticket_with_transcript_and_consent(bot):
    start_tip(bot)
    assert bot.texts(bot.turns[0]) == [bot.says("tip.intro"), bot.says("tip.ask_when")]
    turn = bot.send("tuan truoc")
    assert bot.texts(turn) == [bot.says("tip.ask_victim")]
    turn = bot.send("mot em gai khoang 17 tuoi")
    assert bot.texts(turn) == [bot.says("tip.ask_suspect")]
    bot.nlu.add("ong Tu, hay di xe may", "out_of_scope", 0.5)
    turn = bot.send("ong Tu, hay di xe may")
    assert bot.texts(turn) == [bot.says("tip.ask_platform")]
    assert bot.intake.submitted == [], "nothing is filed before the questions end"
    bot.nlu.add("qua zalo", "out_of_scope", 0.6, ent("platform", "zalo", "zalo"))
    turn = bot.send("qua zalo")
    assert bot.texts(turn) == [bot.says("tip.ask_consent")]
    assert turn.replies[0].quick_replies == ("Đồng ý", "Không", "Ẩn danh")
    bot.nlu.add("dong y", "affirm", 0.98)
    turn = bot.send("dong y", phone="+84987654321")

    assert len(bot.intake.submitted) == 1
    code, draft = bot.intake.submitted[0]
    assert bot.texts(turn) == [bot.says("tip.filed_contact", code=code)]
    inbound = [line.text for line in draft.transcript if line.direction == "in"]
    assert inbound == [
        REPORT,
        "tuan truoc",
        "mot em gai khoang 17 tuoi",
        "ong Tu, hay di xe may",
        "qua zalo",
        "dong y",
    ]
    assert any(line.direction == "out" for line in draft.transcript)
    assert all("T" in line.at and line.at.endswith("+00:00") for line in draft.transcript)
    assert draft.consent_to_contact is True and draft.anonymous is False
    assert draft.phone == "+84987654321"
    assert draft.country == "Trung Quốc"
    assert draft.triage["category"] == "report_trafficking"
    assert draft.nlu["intent"]["name"] == "report_trafficking"
    # Triage saw the whole conversation: the last call's history holds every earlier parse.
    _parse, history = bot.triage.calls[-1]
    assert [p["text"] for p in history][:2] == [REPORT, "tuan truoc"]
    assert bot.state["ticket"] == code and bot.state["flow"] == "idle"


def test_questions_the_entities_already_answered_are_not_asked(bot):
    text = "con gai toi 17 tuoi bi mot nguoi tren facebook du sang Lao"
    bot.nlu.add(
        text,
        "report_trafficking",
        0.9,
        ent("relation", "child", "con gai"),
        ent("age", "17", "17"),
        ent("platform", "facebook", "facebook"),
        ent("country", "Lào", "Lao"),
    )
    asked = [bot.texts(bot.send(text))[-1]]
    while bot.state.get("step") != "ask_consent":
        asked.append(bot.texts(bot.send("bo qua"))[-1])
    assert asked == [
        bot.says("tip.ask_when"),
        bot.says("tip.ask_suspect"),
        bot.says("tip.ask_consent"),
    ]


def test_an_answer_that_gives_a_place_spares_the_where_question(bot):
    bot.nlu.add("toi muon bao tin", "report_trafficking", 0.9)
    bot.send("toi muon bao tin")  # too short to say what happened: asked
    bot.nlu.add(
        "ho lua em toi sang cam", "report_trafficking", 0.9, ent("country", "Campuchia", "cam")
    )
    turn = bot.send("ho lua em toi sang cam")
    assert bot.texts(turn) == [bot.says("tip.ask_when")]


def test_skip_with_bo_qua_moves_to_the_next_question(bot):
    start_tip(bot)
    assert bot.texts(bot.send("bỏ qua")) == [bot.says("tip.ask_victim")]
    assert bot.texts(bot.send("bo qua")) == [bot.says("tip.ask_suspect")]
    assert bot.texts(bot.send("Bỏ Qua!")) == [bot.says("tip.ask_platform")]
    assert bot.texts(bot.send("skip")) == [bot.says("tip.ask_consent")]
    bot.send("bo qua")  # even the consent question
    draft = bot.intake.submitted[0][1]
    assert draft.consent_to_contact is False and draft.phone is None


def test_anonymous_choice_files_anonymously_without_a_phone(bot):
    bot.channel, bot.sender_id = "sms", "+84911111111"
    start_tip(bot)
    for _ in range(4):
        bot.send("bo qua", phone="+84911111111")
    bot.nlu.add(
        "an danh nhe, so toi 0912345678", "deny", 0.9, ent("phone", "+84912345678", "0912345678")
    )
    turn = bot.send("an danh nhe, so toi 0912345678", phone="+84911111111")
    code, draft = bot.intake.submitted[0]
    assert draft.anonymous is True
    assert draft.phone is None
    assert draft.consent_to_contact is False
    assert bot.texts(turn) == [bot.says("tip.filed_anonymous", code=code)]


def test_the_anonymous_button_label_is_understood(bot):
    start_tip(bot)
    for _ in range(4):
        bot.send("bo qua")
    bot.send("Ẩn danh")
    assert bot.intake.submitted[0][1].anonymous is True


def test_no_consent_keeps_the_number_out_of_the_ticket(bot):
    start_tip(bot)
    for _ in range(4):
        bot.send("bo qua")
    bot.nlu.add("khong", "deny", 0.99)
    turn = bot.send("khong", phone="+84911111111")
    code, draft = bot.intake.submitted[0]
    assert draft.consent_to_contact is False and draft.phone is None
    assert bot.texts(turn) == [bot.says("tip.filed_no_contact", code=code)]


def test_an_unclear_consent_answer_is_asked_once_more_then_defaults_to_no_contact(bot):
    start_tip(bot)
    for _ in range(4):
        bot.send("bo qua")
    assert bot.texts(bot.send("hmm de toi nghi")) == [bot.says("tip.reask_consent")]
    bot.send("chua biet")
    assert bot.intake.submitted[0][1].consent_to_contact is False


def test_a_number_in_the_story_is_not_taken_as_the_reporters_contact(bot):
    start_tip(bot)
    bot.send("bo qua")
    bot.send("bo qua")
    bot.nlu.add(
        "so cua no 0933333333", "out_of_scope", 0.7, ent("phone", "+84933333333", "0933333333")
    )
    bot.send("so cua no 0933333333")  # the suspect's number
    bot.send("bo qua")
    bot.nlu.add("dong y", "affirm", 0.98)
    bot.send("dong y")
    draft = bot.intake.submitted[0][1]
    assert draft.consent_to_contact is True
    assert draft.phone is None


def test_report_missing_asks_when_they_were_last_heard_from(bot):
    text = "em trai toi di lam o binh duong roi mat lien lac"
    bot.nlu.add(
        text, "report_missing", 0.95, ent("province", "Thành phố Hồ Chí Minh", "binh duong")
    )
    turn = bot.send(text)
    assert bot.texts(turn)[-1] == bot.says("tip.ask_when_missing")


def test_messages_after_the_tip_add_to_its_ticket(bot):
    start_tip(bot)
    for _ in range(4):
        bot.send("bo qua")
    bot.nlu.add("khong", "deny", 0.99)
    bot.send("khong")
    code = bot.intake.submitted[0][0]
    bot.nlu.add("a, ong ta di xe mau den", "out_of_scope", 0.8)
    turn = bot.send("a, ong ta di xe mau den")
    assert bot.texts(turn) == [bot.says("ticket.appended", code=code)]
    bot.nlu.add(
        "con mot co gai nua o Ha Noi",
        "report_trafficking",
        0.8,
        ent("province", "Hà Nội", "Ha Noi"),
    )
    bot.send("con mot co gai nua o Ha Noi")
    assert len(bot.intake.submitted) == 1
    updates = bot.intake.updates_for(code)
    assert [u.text for u in updates] == ["a, ong ta di xe mau den", "con mot co gai nua o Ha Noi"]
    assert updates[1].province == "Hà Nội"


def number_left_then_tip_to_consent(bot: Harness) -> None:
    own = "sdt cua em la 0912345678"
    bot.nlu.add(own, "ask_hotline", 0.97, ent("phone", "+84912345678", "0912345678"))
    bot.send(own)
    start_tip(bot)
    while bot.state.get("step") != "ask_consent":
        bot.send("bo qua")


def test_a_number_left_before_the_tip_is_its_contact_only_with_consent(bot):
    number_left_then_tip_to_consent(bot)
    bot.nlu.add("dong y", "affirm", 0.98)
    bot.send("dong y")
    draft = bot.intake.submitted[0][1]
    assert draft.consent_to_contact is True and draft.phone == "+84912345678"


def test_a_number_left_before_the_tip_stays_out_of_it_without_consent(bot):
    number_left_then_tip_to_consent(bot)
    bot.send("Ẩn danh")
    draft = bot.intake.submitted[0][1]
    assert draft.anonymous is True and draft.phone is None
