"""Check an offer: warning signs, the company look-up, then the offer to report."""

from __future__ import annotations

from tests.bot.dialogue.fakes import Harness

QUESTION = "cty xkld hoang long co uy tin ko"


def test_check_offer_finds_the_sample_company_without_accents_and_offers_a_tip(bot):
    bot.nlu.add(QUESTION, "check_offer", 0.96)
    turn = bot.send(QUESTION)
    assert bot.texts(turn) == [
        bot.says("offer.warning_signs"),
        bot.says(
            "offer.company_active",
            name="Công ty CP XKLĐ Hoàng Long",
            licence_no="MAU-001/GP-VD",
            licensed_until="31/12/2030",
            province="Hà Nội",
        ),
        bot.says("offer.ask_tip"),
    ]
    assert turn.replies[2].quick_replies == ("Có", "Không")


def test_yes_to_reporting_the_offer_starts_a_tip_that_already_knows_what_happened(bot):
    bot.nlu.add(QUESTION, "check_offer", 0.96)
    bot.send(QUESTION)
    bot.nlu.add("co", "affirm", 0.97)
    turn = bot.send("co")
    assert bot.texts(turn) == [bot.says("tip.intro"), bot.says("tip.ask_where")]
    while bot.state.get("step") != "ask_consent":
        bot.send("bo qua")
    bot.nlu.add("khong", "deny", 0.99)
    bot.send("khong")
    assert len(bot.intake.submitted) == 1
    draft = bot.intake.submitted[0][1]
    assert draft.transcript[0].text == QUESTION
    # A suspicious recruiter reported is a tip (docs/nlu.md: report_trafficking), for the police.
    assert draft.triage["category"] == "report_trafficking"
    assert draft.triage["agencies"] == ["police"]
    assert draft.nlu["text"] == QUESTION


def test_no_company_named_asks_for_it_once_and_skip_goes_to_the_tip_offer(bot):
    text = "co nguoi ru em sang thai lan lam phuc vu, co an toan khong"
    bot.nlu.add(text, "check_offer", 0.9)
    turn = bot.send(text)
    assert bot.texts(turn) == [bot.says("offer.warning_signs"), bot.says("offer.ask_company")]
    turn = bot.send("bo qua")
    assert bot.texts(turn) == [bot.says("offer.ask_tip")]
    bot.nlu.add("khong", "deny", 0.99)
    assert bot.texts(bot.send("khong")) == [bot.says("offer.tip_declined")]
    assert bot.intake.submitted == []


def test_the_named_company_answer_reports_an_expired_licence(bot):
    bot.nlu.add("co nguoi moi di nhat", "check_offer", 0.9)
    bot.send("co nguoi moi di nhat")
    turn = bot.send("cong ty phu thinh mau")
    assert bot.texts(turn) == [
        bot.says(
            "offer.company_expired",
            name="Công ty TNHH Xuất khẩu Lao động Phú Thịnh Mẫu",
            licence_no="MAU-006/GP-VD",
            licensed_until="31/12/2024",
            province="Hà Tĩnh",
        ),
        bot.says("offer.ask_tip"),
    ]


def test_a_named_company_not_on_the_list_is_said_so(bot):
    text = "cong ty TNHH ABC tuyen nguoi di dai loan co that khong"
    bot.nlu.add(text, "check_offer", 0.9)
    turn = bot.send(text)
    assert bot.texts(turn)[1] == bot.says("offer.company_not_found")


def test_a_question_instead_of_yes_or_no_is_answered_and_the_question_asked_again():
    bot = Harness()
    bot.nlu.add(QUESTION, "check_offer", 0.96)
    bot.send(QUESTION)
    bot.nlu.add("so duong day nong la gi", "ask_hotline", 0.95)
    turn = bot.send("so duong day nong la gi")
    assert "111" in bot.joined(turn) and "113" in bot.joined(turn)
    assert turn.replies[-1].text == bot.says("offer.ask_tip")
    assert (bot.state["flow"], bot.state["step"]) == ("offer", "ask_tip")


def test_something_else_instead_of_yes_or_no_is_handled_as_a_new_message():
    bot = Harness()
    bot.nlu.add(QUESTION, "check_offer", 0.96)
    bot.send(QUESTION)
    bot.nlu.add("xin chao", "greet", 0.95)
    turn = bot.send("xin chao")
    assert bot.texts(turn) == [bot.says("smalltalk.greet")]
    assert bot.state["flow"] == "idle"


def _faq(bot: Harness, name: str) -> str:
    return bot.wording.faq.named(name).answer.strip()


def test_a_marriage_broker_gets_marriage_advice_and_no_company_look_up(bot):
    text = "co ba moi gioi thieu em lay chong dai loan, nha em duoc 50 trieu"
    bot.nlu.add(text, "check_offer", 0.9)
    turn = bot.send(text)
    assert bot.texts(turn) == [_faq(bot, "marriage_brokers"), bot.says("offer.ask_tip")]
    assert bot.state["step"] == "ask_tip"


def test_an_offer_asking_for_money_gets_what_the_law_allows(bot):
    text = "cong ty bat dong tien coc 30 trieu truoc khi ky hop dong"
    bot.nlu.add(text, "check_offer", 0.9)
    texts = bot.texts(bot.send(text))
    assert texts[:2] == [bot.says("offer.warning_signs"), _faq(bot, "fees")]
    assert "69/2020/QH14" in texts[1]


def test_a_licence_question_naming_no_company_asks_which(bot):
    text = "lam sao biet mot cong ty xuat khau lao dong co giay phep"
    bot.nlu.add(text, "check_offer", 0.9)
    texts = bot.texts(bot.send(text))
    assert texts == [bot.says("offer.warning_signs"), bot.says("offer.how_to_check")]
    assert bot.state["step"] == "ask_company"
