"""A few conversations through the REAL NLU and triage (fixtures in conftest.py)."""

from __future__ import annotations


def test_a_rescue_message_without_diacritics_starts_the_rescue_flow(real_bot):
    turn = real_bot.send("cuu em voi, em bi nhot o cam")
    code, draft = real_bot.intake.submitted[0]
    assert draft.triage["priority"] == "P1"
    assert draft.country == "Campuchia"
    assert "113" in turn.replies[0].text and "111" in turn.replies[0].text
    assert code in turn.replies[0].text
    assert real_bot.state["flow"] == "rescue"


def test_an_unsure_answer_to_where_is_still_the_answer(real_bot):
    real_bot.send("cứu em với, em bị nhốt ở Campuchia, họ thu hộ chiếu")
    code = real_bot.intake.submitted[0][0]
    turn = real_bot.send("o gan cho")
    assert real_bot.intake.updates_for(code)[0].text == "o gan cho"
    assert real_bot.texts(turn) == [real_bot.says("rescue.ask_companions")]


def test_check_offer_for_hoang_long(real_bot):
    turn = real_bot.send("cty xkld hoang long co uy tin ko")
    assert "Hoàng Long" in real_bot.joined(turn)
    assert turn.replies[-1].text == real_bot.says("offer.ask_tip")


def test_hotline_question(real_bot):
    turn = real_bot.send("số đường dây nóng là gì")
    assert "111" in real_bot.joined(turn) and "113" in real_bot.joined(turn)


def test_a_number_left_is_not_a_question_for_the_hotline(real_bot):
    """Read by the real NLU as ask_hotline ("so dien thoai"): the number is the person's."""
    for text in ("sdt cua em la 0912345678", "số điện thoại của em là 0987654321"):
        turn = real_bot.send(text)
        assert real_bot.texts(turn) == [real_bot.says("phone_no_context")]
    assert real_bot.state["contact_phone"] == "+84987654321"
