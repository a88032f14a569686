from __future__ import annotations

import pickle

import pytest

from bot.nlu.backend import NLUBackend
from bot.nlu.engine import RANKING_SIZE, EmbeddedNLU


def test_parse_shape(engine: EmbeddedNLU) -> None:
    parse = engine.parse("cứu em với, em bị nhốt ở Campuchia")
    assert set(parse) == {"text", "intent", "intent_ranking", "entities"}
    assert parse["intent"]["name"] == "request_rescue"
    assert 0.0 <= parse["intent"]["confidence"] <= 1.0
    assert parse["intent_ranking"][0] == parse["intent"]
    assert len(parse["intent_ranking"]) <= RANKING_SIZE
    confidences = [r["confidence"] for r in parse["intent_ranking"]]
    assert confidences == sorted(confidences, reverse=True)


def test_satisfies_the_backend_protocol(engine: EmbeddedNLU) -> None:
    assert isinstance(engine, NLUBackend)


def test_unaccented_text_is_understood(engine: EmbeddedNLU) -> None:
    assert engine.parse("cuu em voi, em bi nhot")["intent"]["name"] == "request_rescue"


@pytest.mark.parametrize("text", ["", "   ", "🙏😭", "xqzvw kjhgf plmnb"])
def test_no_evidence_is_out_of_scope(engine: EmbeddedNLU, text: str) -> None:
    parse = engine.parse(text)
    assert parse["intent"]["name"] == "out_of_scope"
    assert parse["text"] == text


def test_empty_text_has_zero_confidence(engine: EmbeddedNLU) -> None:
    parse = engine.parse("")
    assert parse["intent"] == {"name": "out_of_scope", "confidence": 0.0}
    assert parse["entities"] == []


def test_low_confidence_falls_back_to_out_of_scope(engine: EmbeddedNLU) -> None:
    threshold = engine.intents.threshold
    engine.intents.threshold = 1.01  # nothing is confident enough
    try:
        parse = engine.parse("xin chào")
    finally:
        engine.intents.threshold = threshold
    assert parse["intent"]["name"] == "out_of_scope"
    assert parse["intent_ranking"][0]["name"] == "out_of_scope"


def test_threshold_is_tuned_and_stored(engine: EmbeddedNLU) -> None:
    assert 0.0 <= engine.intents.threshold < 1.0
    assert engine.meta["threshold"] == engine.intents.threshold
    assert engine.intents.temperature > 0


def test_long_message(engine: EmbeddedNLU) -> None:
    text = ("em bị nhốt ở Campuchia, cứu em " * 400)[:10_000]
    parse = engine.parse(text)
    assert parse["intent"]["name"] == "request_rescue"
    for entity in parse["entities"]:
        assert text[entity["start"] : entity["end"]] == entity["text"]


def test_pickle_round_trip(engine: EmbeddedNLU) -> None:
    copy = pickle.loads(pickle.dumps(engine))
    text = "con gái tôi mất liên lạc ở Bình Dương"
    assert copy.parse(text) == engine.parse(text)


# A person opening a report says so before the details; "báo tin" is also the word of many
# questions about reporting ("báo tin có bị lộ tên không"), which the engine once took these for
# and answered with an FAQ instead of starting the report. None of these is a training sentence.
@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("em muốn báo tin về một vụ lừa đảo đi làm ở nước ngoài", "report_trafficking"),
        ("em muon bao tin ve mot vu lua dao di lam o nuoc ngoai", "report_trafficking"),
        ("tôi muốn báo tin, bạn tôi bị lừa sang Campuchia", "report_trafficking"),
        ("cho minh bao mot vu lua di lam nuoc ngoai", "report_trafficking"),
        ("muon bao tin thi goi so may vay", "ask_hotline"),
        ("người báo tin có được giữ kín tên không", "ask_info"),
        ("bao tin o day co bi lo ten khong ad", "ask_info"),
    ],
)
def test_wanting_to_report_opens_a_report_and_a_question_about_reporting_is_a_question(
    real_engine: EmbeddedNLU, text: str, intent: str
) -> None:
    assert real_engine.parse(text)["intent"]["name"] == intent
