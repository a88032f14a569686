from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.triage import TriageRules, triage

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def rules() -> TriageRules:
    return TriageRules.from_dir(REPO / "nlu_data")


def p(
    text: str, intent: str, conf: float = 0.9, entities: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    ranking = [{"name": intent, "confidence": conf}]
    return {
        "text": text,
        "intent": ranking[0],
        "intent_ranking": ranking,
        "entities": entities or [],
    }


def age(value: int) -> dict[str, Any]:
    return {
        "entity": "age",
        "value": str(value),
        "start": 0,
        "end": 1,
        "text": "x",
        "extractor": "t",
    }


def test_rescue_is_p1_to_police_and_dolisa(rules: TriageRules) -> None:
    t = triage(p("giúp em", "request_rescue"), [], rules=rules)
    assert t["priority"] == "P1"
    assert t["category"] == "request_rescue"
    assert t["agencies"] == ["dolisa", "police"]
    assert "rescue requested" in t["reasons"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("con toi bi nhot o ben do", "someone is held or confined"),
        ("họ thu hộ chiếu của chồng tôi", "papers or phone confiscated"),
        ("chúng nó đòi tiền chuộc", "ransom or debt demanded"),
        ("nó bị đánh đập hằng ngày", "violence reported"),
        ("bon no dang cho len xe qua bien gioi", "someone is being sold or moved"),
        ("KHẨN CẤP", "writer says it is urgent"),
    ],
)
def test_danger_signs_make_a_report_p1(rules: TriageRules, text: str, reason: str) -> None:
    t = triage(p(text, "report_trafficking"), [], rules=rules)
    assert t["priority"] == "P1"
    assert reason in t["reasons"]
    assert t["agencies"] == ["police"]


def test_child_under_16_is_p1(rules: TriageRules) -> None:
    t = triage(
        p("con gái tôi đi theo người lạ", "report_missing", entities=[age(14)]), [], rules=rules
    )
    assert t["priority"] == "P1"
    assert "child under 16 at risk" in t["reasons"]
    assert (
        triage(
            p("con gái tôi đi theo người lạ", "report_missing", entities=[age(17)]), [], rules=rules
        )["priority"]
        == "P2"
    )


def test_danger_in_history_keeps_the_conversation_p1(rules: TriageRules) -> None:
    history = [p("em bị nhốt", "request_rescue")]
    t = triage(p("vâng", "affirm"), history, rules=rules)
    assert t["priority"] == "P1"
    assert t["category"] == "request_rescue"


def test_category_is_the_most_serious_intent(rules: TriageRules) -> None:
    history = [p("xin chào", "greet"), p("con tôi mất liên lạc", "report_missing")]
    t = triage(p("cảm ơn", "thank"), history, rules=rules)
    assert t["category"] == "report_missing"
    assert t["priority"] == "P2"
    assert t["agencies"] == ["police"]


def test_concrete_report_is_p2(rules: TriageRules) -> None:
    country = {
        "entity": "country",
        "value": "Lào",
        "start": 0,
        "end": 3,
        "text": "Lào",
        "extractor": "g",
    }
    named = "bà Tư ở xóm tôi môi giới đưa gái sang Lào"
    t = triage(p(named, "report_trafficking", entities=[country]), [], rules=rules)
    assert t["priority"] == "P2"
    assert t["agencies"] == ["police"]


def test_a_country_alone_is_a_general_suspicion(rules: TriageRules) -> None:
    """docs/nlu.md: P2 needs an identifiable victim, suspect, place or missing person; "some
    broker takes girls to Laos" names none of them."""
    country = {
        "entity": "country",
        "value": "Lào",
        "start": 0,
        "end": 3,
        "text": "Lào",
        "extractor": "g",
    }
    t = triage(
        p("có người môi giới đưa gái sang Lào", "report_trafficking", entities=[country]),
        [],
        rules=rules,
    )
    assert t["priority"] == "P3"


def test_vague_report_is_p3(rules: TriageRules) -> None:
    assert (
        triage(p("tôi thấy nghi nghi", "report_trafficking"), [], rules=rules)["priority"] == "P3"
    )


def test_offer_check_goes_to_dolisa_and_police_only_when_p1(rules: TriageRules) -> None:
    calm = triage(p("công ty xkld này có uy tín không", "check_offer"), [], rules=rules)
    assert (calm["priority"], calm["agencies"]) == ("P3", ["dolisa"])
    urgent = triage(p("công ty giữ hộ chiếu không cho về", "check_offer"), [], rules=rules)
    assert (urgent["priority"], urgent["agencies"]) == ("P1", ["dolisa", "police"])


def test_support_request(rules: TriageRules) -> None:
    t = triage(p("em cần hỗ trợ học nghề", "request_support"), [], rules=rules)
    assert (t["priority"], t["agencies"]) == ("P3", ["dolisa"])


def test_questions_about_danger_are_not_p1(rules: TriageRules) -> None:
    t = triage(p("bị nhốt thì luật xử thế nào", "ask_info"), [], rules=rules)
    assert t["priority"] == "P3"
    assert t["agencies"] == []


def test_uncertain_rescue_is_still_p1(rules: TriageRules) -> None:
    parse = p("ho khong cho em di", "report_trafficking", 0.5)
    parse["intent_ranking"].append({"name": "request_rescue", "confidence": 0.4})
    t = triage(parse, [], rules=rules)
    assert t["priority"] == "P1"
    assert "message may be a rescue request" in t["reasons"]


def test_reasons_are_short_english_phrases(rules: TriageRules) -> None:
    t = triage(p("cứu, em bị nhốt, họ thu hộ chiếu", "request_rescue"), [], rules=rules)
    assert all(isinstance(r, str) and r.isascii() and len(r) < 60 for r in t["reasons"])


def test_default_rules_and_history(rules: TriageRules) -> None:
    t = triage(p("xin chào", "greet"))
    assert t == {
        "priority": "P3",
        "category": "greet",
        "agencies": [],
        "reasons": ["greet, no danger signs"],
    }


def test_a_rescue_already_done_is_not_danger_now_but_a_negated_one_is() -> None:
    from bot.triage import load_rules

    rules = load_rules()
    assert rules.danger_signs("em mới được giải cứu về, giờ cần hỗ trợ học nghề") == []
    assert rules.danger_signs("em da duoc giai cuu ve nha, can ho tro vay von") == []
    assert "urgent" in rules.danger_signs("con tôi vẫn chưa được giải cứu")
    assert "held" in rules.danger_signs("em được giải cứu về nhưng bạn em vẫn bị nhốt")
