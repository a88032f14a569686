"""Questions: short FAQ answers chosen by keywords."""

from __future__ import annotations

import pytest

from tests.bot.dialogue.fakes import HOTLINES, Harness


@pytest.mark.parametrize(
    "text",
    ["mua ban nguoi bi phat tu bao nhieu nam", "Tội mua bán người bị xử lý theo luật nào?"],
)
def test_law_questions_cite_articles_150_and_151(bot, text):
    bot.nlu.add(text, "ask_info", 0.9)
    answer = bot.joined(bot.send(text))
    assert "Điều 150" in answer and "151" in answer


def test_hotline_question_gives_111_and_113(bot):
    bot.nlu.add("so duong day nong la gi", "ask_hotline", 0.95)
    answer = bot.joined(bot.send("so duong day nong la gi"))
    assert HOTLINES["trafficking_24_7"] in answer and HOTLINES["police_emergency"] in answer


def test_asking_for_a_contact_without_keywords_gets_the_hotlines(bot):
    bot.nlu.add("cho xin cai so", "ask_hotline", 0.8)
    answer = bot.joined(bot.send("cho xin cai so"))
    hotlines = next(t for t in bot.wording.faq.topics if t.name == "hotlines").answer
    assert answer == hotlines.format(**HOTLINES)


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("thong tin cua toi co duoc giu bi mat ko", "confidentiality"),
        ("nan nhan duoc ho tro gi", "rights"),
        ("ho thuong lua dao the nao", "tricks"),
        ("lam sao de bao tin", "how_to_report"),
        ("cho hoi ve van de nay", "general"),
    ],
)
def test_each_topic_is_found_by_its_keywords(text, topic):
    bot = Harness()
    bot.nlu.add(text, "ask_info", 0.9)
    answer = bot.joined(bot.send(text))
    expected = next(t for t in bot.wording.faq.topics if t.name == topic).answer
    assert answer == expected.format(**HOTLINES)


def test_no_keyword_collides_once_diacritics_are_gone():
    """'tư vấn' (advice) must not read as 'tù' (prison), nor 'du lịch' as 'dụ' (lure)."""
    bot = Harness()
    faq = bot.wording.faq
    assert faq.topic("toi can tu van du lich").name != "law"
    assert faq.topic("toi can tu van du lich").name != "tricks"


def test_a_topic_with_requires_competes_only_with_one_of_those_words():
    faq = Harness().wording.faq
    assert faq.topic("em vuot bien trai phep vi bi lua ban, ve co bi phat khong").name == (
        "victim_protection"
    )
    assert faq.topic("to chuc cho nguoi khac vuot bien trai phep bi phat the nao").name == "law"


def test_the_flows_topics_must_exist(tmp_path):
    import shutil

    from bot.dialogue.wording import Wording, WordingError
    from tests.bot.dialogue.fakes import NLU_DATA

    data = tmp_path / "nlu_data"
    shutil.copytree(NLU_DATA, data)
    text = (data / "faq.yml").read_text(encoding="utf-8").replace("  fees:\n", "  fee_law:\n")
    (data / "faq.yml").write_text(text, encoding="utf-8")
    with pytest.raises(WordingError, match="fees"):
        Wording.load(data)
