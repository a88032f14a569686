"""Relation `self` (docs/nlu.md): every first-person word of the writer in a rescue or support
request, and nothing else. The rule runs after the classifier, so it is tested with the intent
given, on the real word lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlu.engine import load_side_files
from bot.nlu.entities.writer import WriterSelf

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def writer() -> tuple:
    normalizer, rules = load_side_files(REPO / "nlu_data")
    return normalizer, WriterSelf(rules)


def selves(writer: tuple, text: str, intent: str = "request_rescue", found=()) -> list[str]:
    normalizer, rule = writer
    return [e["text"] for e in rule.extract(normalizer(text), intent, list(found))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cứu em với, em bị nhốt ở Campuchia", ["em", "em"]),
        ("cuu e voi, e dang bi giam", ["e", "e"]),
        ("tôi bị bán sang Trung Quốc, xin giúp tôi về", ["tôi", "tôi"]),
        ("mk bị nhốt 2 tuần rồi, k ai biết mk ở đâu", ["mk", "mk"]),
        ("cứu con với, con muốn về với mẹ", ["con", "con"]),
        ("chị bị lừa sang Lào, giúp chị với", ["chị", "chị"]),
        ("tau bị giữ ở xưởng, cứu tau", ["tau", "tau"]),
    ],
)
def test_every_first_person_word_of_the_writer(writer, text, expected) -> None:
    assert selves(writer, text) == expected


def test_also_in_a_support_request(writer) -> None:
    assert selves(writer, "em mới về, em cần chỗ ở", "request_support") == ["em", "em"]


@pytest.mark.parametrize(
    "intent", ["report_trafficking", "check_offer", "ask_info", "out_of_scope"]
)
def test_not_outside_rescue_and_support(writer, intent) -> None:
    assert selves(writer, "em bị lừa sang Campuchia", intent) == []


def test_not_when_the_message_is_about_someone_else(writer) -> None:
    child = {"entity": "relation", "value": "child", "start": 0, "end": 7}
    assert selves(writer, "con gái tôi bị giữ, tôi phải làm sao", found=[child]) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("chị ơi cứu", []),  # a form of address
        ("anh chị ơi giúp", []),
        ("chị ấy bị giữ ở Lào", []),  # a third person
        ("tụi nó đánh", []),  # "tụi" is not "tui"
        ("các em bị nhốt", []),  # not the writer alone
        ("toi o dubai bi chu giu giay to", ["toi"]),  # "to" is tờ without diacritics...
        ("chi thay bien hieu tieng trung", []),  # ... and "chi" is chỉ
        ("em ở một mình, giật mình cả đêm", ["em"]),  # alone, startled
    ],
)
def test_words_that_are_not_the_writer(writer, text, expected) -> None:
    assert selves(writer, text) == expected


def test_a_pronoun_after_punctuation_is_no_possessor(writer) -> None:
    assert selves(writer, "cứu em, em ở Bình Dương") == ["em", "em"]
    assert selves(writer, "bạn em bị nhốt") == []
