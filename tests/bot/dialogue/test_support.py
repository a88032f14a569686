"""Support: what is needed and where, one ticket routed by triage (to DOLISA)."""

from __future__ import annotations

from tests.bot.dialogue.fakes import ent


def test_support_asks_need_and_place_then_files_one_ticket_routed_by_triage(bot):
    bot.nlu.add("toi moi duoc giai cuu ve", "request_support", 0.9)
    turn = bot.send("toi moi duoc giai cuu ve")
    assert bot.texts(turn) == [bot.says("support.intro"), bot.says("support.ask_need")]
    turn = bot.send("can cho o va hoc nghe")
    assert bot.texts(turn) == [bot.says("support.ask_where")]
    bot.nlu.add("o nghe an", "out_of_scope", 0.6, ent("province", "Nghệ An", "nghe an"))
    turn = bot.send("o nghe an")
    assert bot.texts(turn) == [bot.says("support.ask_contact")]
    bot.nlu.add("0912345678", "out_of_scope", 0.8, ent("phone", "+84912345678", "0912345678"))
    turn = bot.send("0912345678")

    assert len(bot.intake.submitted) == 1
    code, draft = bot.intake.submitted[0]
    assert bot.texts(turn) == [bot.says("support.filed", code=code)]
    assert draft.triage["agencies"] == ["dolisa"]  # triage's routing, not the engine's
    assert draft.triage["category"] == "request_support"
    assert draft.province == "Nghệ An"
    assert draft.phone == "+84912345678" and draft.consent_to_contact is True


def test_support_request_that_names_need_and_place_goes_straight_to_contact(bot):
    text = "em can ho tro hoc nghe o Ha Tinh"
    bot.nlu.add(text, "request_support", 0.9, ent("province", "Hà Tĩnh", "Ha Tinh"))
    turn = bot.send(text, phone="+84911111111")  # an SMS: the number is known
    code, draft = bot.intake.submitted[0]
    assert bot.texts(turn) == [bot.says("support.intro"), bot.says("support.filed", code=code)]
    assert draft.phone == "+84911111111"


def test_an_answer_the_nlu_misreads_does_not_reroute_the_request(bot):
    """ "co 3 nguoi" may parse as a report; as an answer it is part of the support request."""
    bot.nlu.add("toi can ho tro", "request_support", 0.9)
    bot.send("toi can ho tro")
    bot.nlu.add("cho o cho 3 nguoi", "report_trafficking", 0.7, ent("person_count", "3", "3"))
    bot.send("cho o cho 3 nguoi")
    bot.send("bo qua")
    bot.send("bo qua")
    draft = bot.intake.submitted[0][1]
    assert draft.triage["category"] == "request_support"
    assert draft.triage["agencies"] == ["dolisa"]
    assert draft.nlu["text"] == "toi can ho tro"
    answer = bot.state["parses"][1]
    assert answer["intent"]["name"] == "request_support"
    assert answer["nlu_intent"] == "report_trafficking" and answer["answer_to"] == "ask_need"


def test_a_support_request_after_a_report_gets_its_own_dolisa_ticket(bot):
    bot.nlu.add("nha ben canh co nguoi dua con gai sang tq", "report_trafficking", 0.9)
    bot.send("nha ben canh co nguoi dua con gai sang tq")
    for _ in range(6):  # skip every tip question until the report is filed
        if bot.intake.submitted:
            break
        bot.send("bo qua")
    assert len(bot.intake.submitted) == 1
    bot.nlu.add("em can ho tro cho o", "request_support", 0.9)
    bot.send("em can ho tro cho o")
    bot.send("bo qua")
    bot.send("bo qua")
    bot.send("bo qua")
    assert len(bot.intake.submitted) == 2
    assert bot.intake.submitted[1][1].triage["agencies"] == ["dolisa"]
