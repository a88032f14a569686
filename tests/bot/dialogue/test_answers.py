"""The conversation answers issue 10 found wrong, each tried as a new user would, through the
real NLU and triage where the NLU's reading is part of the case (fixtures in conftest.py), with
the scripted NLU where only the dialogue's rule is under test."""

from __future__ import annotations

from tests.bot.dialogue.fakes import HOTLINES, Harness, ent


def faq(bot: Harness, topic: str) -> str:
    answer = next(t for t in bot.wording.faq.topics if t.name == topic).answer
    return answer.format(**HOTLINES).strip()


# --- where the person is -------------------------------------------------------------------


def test_they_will_not_let_me_return_to_vietnam_is_read_as_being_abroad(real_bot):
    turn = real_bot.send("cứu e với, bọn nó k cho e về vn")
    texts = real_bot.texts(turn)
    assert real_bot.intake.submitted[0][1].triage["priority"] == "P1"
    assert texts[-1] == real_bot.says("rescue.ask_location_abroad")
    assert not any("Việt Nam" in t for t in texts), "not 'Ở Việt Nam, bạn ... ở khu nào'"


def test_a_hometown_is_not_where_the_person_is(real_bot):
    turn = real_bot.send("e quê nghệ an, bị lừa sang cam, họ k cho về")
    assert real_bot.texts(turn)[-1] == real_bot.says(
        "rescue.ask_location_detail", place="Campuchia"
    )


def test_a_place_in_vietnam_is_still_asked_about_in_detail(bot):
    text = "em bi nhot o binh duong"
    bot.nlu.add(
        text,
        "request_rescue",
        0.95,
        ent("relation", "self", "em"),
        ent("province", "Thành phố Hồ Chí Minh", "binh duong"),
    )
    turn = bot.send(text)
    assert bot.texts(turn)[-1] == bot.says(
        "rescue.ask_location_detail", place="Thành phố Hồ Chí Minh"
    )


# --- someone else in danger ----------------------------------------------------------------

NEIGHBOUR = "con gái nhà hàng xóm bị đưa sang Trung Quốc lấy chồng"


def test_a_tip_about_a_neighbours_daughter_asks_about_her_not_the_rescue_script(real_bot):
    turn = real_bot.send(NEIGHBOUR)
    joined = real_bot.joined(turn)
    assert real_bot.texts(turn)[0] == real_bot.says("tip.intro")
    assert real_bot.says("rescue.first", code="x")[:20] not in joined
    assert real_bot.says("rescue.ask_companions") not in joined
    # The questions go on about the girl: when, who she is and how old.
    asked = [real_bot.texts(turn)[-1]]
    while real_bot.state.get("step") not in (None, "ask_consent"):
        asked.append(real_bot.texts(real_bot.send("bỏ qua"))[-1])
    assert real_bot.says("tip.ask_victim") in asked
    assert real_bot.says("rescue.ask_companions") not in asked


def test_a_witness_seeing_her_taken_tonight_gets_questions_about_her(real_bot):
    turn = real_bot.send("tối nay họ chở con gái nhà hàng xóm sang Trung Quốc")
    code, draft = real_bot.intake.submitted[0]
    assert draft.triage["priority"] == "P1"
    texts = real_bot.texts(turn)
    assert texts[0] == real_bot.says("rescue.tip_first", code=code)
    assert texts[-1] == real_bot.says("rescue.tip_ask_location_detail", place="Trung Quốc")
    turn = real_bot.send("đi về hướng Lạng Sơn")
    assert real_bot.texts(turn) == [real_bot.says("rescue.tip_ask_person")]
    turn = real_bot.send("bé tên Hoa, 15 tuổi")
    assert real_bot.texts(turn) == [real_bot.says("rescue.tip_ask_contact")]
    assert all(
        real_bot.says("rescue.ask_companions") not in t
        for step in real_bot.turns
        for t in real_bot.texts(step)
    )


# --- offers --------------------------------------------------------------------------------


def test_a_licence_question_without_a_name_asks_for_the_name(real_bot):
    turn = real_bot.send("Làm sao để biết một công ty xuất khẩu lao động có giấy phép?")
    texts = real_bot.texts(turn)
    assert real_bot.says("offer.company_not_found") not in texts
    assert texts[-1] == real_bot.says("offer.how_to_check")
    turn = real_bot.send("công ty Hoàng Long")
    assert "Hoàng Long" in real_bot.texts(turn)[0]
    assert real_bot.texts(turn)[-1] == real_bot.says("offer.ask_tip")


def test_a_named_company_not_on_the_list_is_still_said_not_found(bot):
    text = "cong ty TNHH Minh Phat tuyen nguoi di nhat co that khong"
    bot.nlu.add(text, "check_offer", 0.9)
    assert bot.says("offer.company_not_found") in bot.texts(bot.send(text))


def test_a_marriage_broker_offer_gets_marriage_broker_advice(real_bot):
    turn = real_bot.send(
        "Có bà mối giới thiệu em lấy chồng Hàn Quốc, bảo nhà em được 50 triệu, có nên đi không?"
    )
    texts = real_bot.texts(turn)
    assert texts[0] == faq(real_bot, "marriage_brokers")
    assert real_bot.says("offer.warning_signs") not in texts, "no job-offer advice"
    assert texts[-1] == real_bot.says("offer.ask_tip")


def test_a_job_offer_with_a_fee_is_told_what_a_licensed_company_may_charge(real_bot):
    turn = real_bot.send("Công ty bắt em đặt cọc 50 triệu mới cho đi Nhật, vậy có đúng không?")
    texts = real_bot.texts(turn)
    assert texts[0] == real_bot.says("offer.warning_signs")
    fees = faq(real_bot, "fees")
    assert fees in texts
    assert "Điều 23" in fees and "69/2020/QH14" in fees


def test_a_question_about_fees_gets_the_law_on_fees(real_bot):
    turn = real_bot.send("cty xkld được thu tiền dịch vụ bao nhiêu là đúng luật")
    assert faq(real_bot, "fees") in real_bot.texts(turn)


# --- a victim's own punishment -------------------------------------------------------------


def test_a_victim_asking_about_her_own_punishment_gets_the_protection_victims_have(real_bot):
    turn = real_bot.send(
        "Em bị lừa bán sang Trung Quốc, em trốn về theo đường mòn không có giấy tờ, "
        "em có bị phạt vì vượt biên trái phép không?"
    )
    answer = real_bot.joined(turn)
    assert answer == faq(real_bot, "victim_protection")
    assert "53/2024/QH15" in answer
    assert "Điều 150" not in answer, "not the traffickers' prison terms"


def test_the_smugglers_punishment_is_still_the_law_answer(bot):
    text = "đưa người vượt biên trái phép bị xử lý ra sao"
    bot.nlu.add(text, "ask_info", 0.9)
    assert bot.joined(bot.send(text)) == faq(bot, "law")


# --- a question in the middle of a form ----------------------------------------------------


def test_a_question_in_the_middle_of_a_tip_is_answered_and_the_tip_resumes(real_bot):
    real_bot.send("nhà bên cạnh có người hay dẫn các cô gái trẻ sang Trung Quốc lấy chồng")
    open_step = real_bot.state["step"]
    open_question = real_bot.texts()[-1]
    turn = real_bot.send("báo tin ở đây có bị lộ tên không?")
    assert real_bot.texts(turn) == [faq(real_bot, "confidentiality"), open_question]
    assert real_bot.state["step"] == open_step, "the question stays open"
    turn = real_bot.send("tuần trước")
    assert real_bot.state["step"] != open_step, "the next message answers it"
    assert real_bot.intake.submitted == []


def test_a_question_in_the_middle_of_a_rescue_is_answered_and_the_rescue_resumes(real_bot):
    real_bot.send("cứu em với, em bị nhốt ở Campuchia, họ thu hộ chiếu")
    code = real_bot.intake.submitted[0][0]
    open_question = real_bot.texts()[-1]
    turn = real_bot.send("số công an là số mấy?")
    texts = real_bot.texts(turn)
    assert texts[0] == faq(real_bot, "hotlines") and texts[-1] == open_question
    # The answer that follows still goes to the rescue ticket as the answer to "where?".
    real_bot.send("gần chợ Bavet")
    assert real_bot.intake.updates_for(code)[-1].text == "gần chợ Bavet"
    assert real_bot.texts()[-1] == real_bot.says("rescue.ask_companions")


def test_an_unsure_answer_with_a_question_word_is_still_the_answer(bot):
    bot.nlu.add("cuu toi", "request_rescue", 0.9)
    bot.send("cuu toi")
    code = bot.intake.submitted[0][0]
    bot.nlu.add("o dau khong biet", "ask_hotline", 0.5)  # below the bar for a question
    turn = bot.send("o dau khong biet")
    assert bot.texts(turn) == [bot.says("rescue.ask_companions")]
    assert bot.intake.updates_for(code)[0].text == "o dau khong biet"


def test_a_question_while_asked_for_consent_is_answered_and_consent_asked_again(bot):
    bot.nlu.add("toi muon bao tin", "report_trafficking", 0.9)
    bot.send("toi muon bao tin")
    while bot.state.get("step") != "ask_consent":
        bot.send("bo qua")
    bot.nlu.add("co bi lo ten khong?", "ask_info", 0.9)
    turn = bot.send("co bi lo ten khong?")
    assert bot.texts(turn)[-1] == bot.says("tip.ask_consent")
    assert bot.intake.submitted == [], "a question is no consent"
