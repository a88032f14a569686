"""The Rasa backend against a real Rasa 3.6 server trained on nlu_data/ (`make test-rasa`).

The messages are clear cases, accented and not: the point is that the Rasa backend, chosen by
configuration as in production, understands them and answers in the shape of
docs/nlu.md, not to measure accuracy (bench/nlu_vs_rasa.py does that).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest

from bot.config import BotSettings
from bot.nlu import load_nlu
from bot.nlu.rasa_client import KNOWN_INTENTS, RasaNLU, RasaUnavailable
from tests.rasa.conftest import RasaTarget

pytestmark = pytest.mark.rasa

CLEAR_MESSAGES = [
    ("cứu em với, em bị nhốt ở Campuchia, họ thu hộ chiếu", "request_rescue"),
    ("cuu em voi, em bi nhot o campuchia, ho thu ho chieu", "request_rescue"),
    ("con gái tôi đi làm ở Bình Dương rồi mất liên lạc 2 tháng nay", "report_missing"),
    ("con gai toi di lam o binh duong roi mat lien lac 2 thang nay", "report_missing"),
    ("số đường dây nóng là gì", "ask_hotline"),
    ("so duong day nong la gi", "ask_hotline"),
    ("xin chào", "greet"),
    ("cảm ơn nhiều", "thank"),
    ("cam on nhieu", "thank"),
    ("tạm biệt", "goodbye"),
]


@pytest.fixture
def nlu(rasa_env: RasaTarget) -> Iterator[Any]:
    backend = load_nlu()
    yield backend
    backend.close()


def assert_nlu_shape(parse: dict[str, Any], text: str) -> None:
    assert set(parse) == {"text", "intent", "intent_ranking", "entities"}
    assert parse["text"] == text
    assert parse["intent"]["name"] in KNOWN_INTENTS
    assert 0.0 <= parse["intent"]["confidence"] <= 1.0
    assert parse["intent_ranking"][0] == parse["intent"]
    for entry in parse["intent_ranking"]:
        assert entry["name"] in KNOWN_INTENTS
    for entity in parse["entities"]:
        assert {"entity", "value", "start", "end", "text", "extractor"} <= set(entity)
        assert text[entity["start"] : entity["end"]] == entity["text"]


def test_load_nlu_with_rasa_backend_returns_the_rasa_client(nlu: Any) -> None:
    assert isinstance(nlu, RasaNLU)
    assert nlu.fallback is None
    assert nlu.status()["model_file"]


@pytest.mark.parametrize(("text", "intent"), CLEAR_MESSAGES)
def test_clear_messages_get_the_right_intent(nlu: Any, text: str, intent: str) -> None:
    parse = nlu.parse(text)
    assert_nlu_shape(parse, text)
    assert parse["intent"]["name"] == intent, parse["intent_ranking"][:3]


def test_country_is_extracted_with_offsets_into_the_message(nlu: Any) -> None:
    text = "cứu em với, em bị nhốt ở Campuchia"
    parse = nlu.parse(text)
    assert_nlu_shape(parse, text)
    countries = [e for e in parse["entities"] if e["entity"] == "country"]
    assert [(e["value"], e["text"], e["start"]) for e in countries] == [
        ("Campuchia", "Campuchia", text.index("Campuchia"))
    ]


def test_reference_code_is_extracted(nlu: Any) -> None:
    text = "tôi muốn hỏi tình hình tin báo mã TIP-7K3Q9"
    parse = nlu.parse(text)
    assert_nlu_shape(parse, text)
    codes = [e for e in parse["entities"] if e["entity"] == "reference_code"]
    assert [e["text"] for e in codes] == ["TIP-7K3Q9"]


def test_decomposed_unicode_gets_the_same_intent_and_offsets_into_the_original(
    nlu: Any,
) -> None:
    composed = "cứu em với, em bị nhốt ở Campuchia, họ thu hộ chiếu"
    text = unicodedata.normalize("NFD", composed)
    parse = nlu.parse(text)
    assert_nlu_shape(parse, text)
    assert parse["intent"]["name"] == nlu.parse(composed)["intent"]["name"]


def test_blank_padding_keeps_offsets_into_the_message_as_received(nlu: Any) -> None:
    text = "   em bị nhốt ở Campuchia, cứu em   "
    parse = nlu.parse(text)
    assert_nlu_shape(parse, text)


def test_leading_slash_is_not_taken_as_an_intent_literal(nlu: Any) -> None:
    # Rasa answers "/greet" with greet at confidence 1.0 and a one-entry ranking.
    parse = nlu.parse("/greet")
    assert_nlu_shape(parse, "/greet")
    assert len(parse["intent_ranking"]) > 1


def test_wrong_token_is_refused_when_the_server_requires_one(rasa_target: RasaTarget) -> None:
    if not rasa_target.token:
        pytest.skip("the server was started without --auth-token")
    settings = BotSettings(
        nlu_backend="rasa",
        rasa_url=rasa_target.url,
        rasa_token="not-" + rasa_target.token,
        rasa_fallback_to_embedded=False,
    )
    backend = load_nlu(settings)
    with pytest.raises(RasaUnavailable, match="HOTLINE_RASA_TOKEN"):
        backend.parse("xin chào")
