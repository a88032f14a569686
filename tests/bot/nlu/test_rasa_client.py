"""The Rasa backend client against a fake Rasa server on 127.0.0.1 (no Rasa needed)."""

from __future__ import annotations

import logging
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.nlu.rasa_client import KNOWN_INTENTS, RasaNLU, RasaUnavailable, normalise_rasa_parse
from tests.bot.nlu.fake_rasa import FakeRasa, Reply, closed_port_url, rasa_answer

# Tiny timeouts and no back-off keep every failure test well under a second.
FAST = {"timeout": 0.3, "backoff_seconds": 0.0}


class RecordingFallback:
    """Stands in for the embedded engine: answers every text, remembers what it was asked."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def parse(self, text: str) -> dict[str, Any]:
        self.texts.append(text)
        return {
            "text": text,
            "intent": {"name": "request_rescue", "confidence": 0.8},
            "intent_ranking": [{"name": "request_rescue", "confidence": 0.8}],
            "entities": [],
        }


@pytest.fixture
def fake() -> Iterator[FakeRasa]:
    server = FakeRasa().start()
    yield server
    server.stop()


@pytest.fixture
def fallback() -> RecordingFallback:
    return RecordingFallback()


def test_parse_returns_rasa_answer_in_nlu_shape_with_offsets_into_the_input(
    fake: FakeRasa,
) -> None:
    text = "toi bi nhot o cam, cuu em voi"
    fake.script(
        Reply(
            body=rasa_answer(
                text,
                "request_rescue",
                0.97,
                ranking=[("request_rescue", 0.97), ("report_trafficking", 0.02)],
                entities=[
                    {
                        "entity": "country",
                        "start": 14,
                        "end": 17,
                        "value": "Campuchia",
                        "extractor": "DIETClassifier",
                        "confidence_entity": 0.93,
                        "processors": ["EntitySynonymMapper"],
                    }
                ],
            )
        )
    )
    with RasaNLU(url=fake.url, retries=0, **FAST) as nlu:
        parse = nlu.parse(text)

    assert parse["text"] == text
    assert parse["intent"] == {"name": "request_rescue", "confidence": 0.97}
    assert parse["intent_ranking"] == [
        {"name": "request_rescue", "confidence": 0.97},
        {"name": "report_trafficking", "confidence": 0.02},
    ]
    assert parse["entities"] == [
        {
            "entity": "country",
            "value": "Campuchia",
            "start": 14,
            "end": 17,
            "text": "cam",
            "extractor": "DIETClassifier",
            "confidence_entity": 0.93,
            "processors": ["EntitySynonymMapper"],
        }
    ]
    assert "text_tokens" not in parse
    [request] = fake.parse_requests()
    assert request.method == "POST"
    assert request.body == {"text": text}
    assert request.query == {}


def test_token_is_sent_as_query_parameter(fake: FakeRasa) -> None:
    with RasaNLU(url=fake.url + "/", token="s3cret", retries=0, **FAST) as nlu:
        nlu.parse("xin chào")
    assert fake.parse_requests()[0].query == {"token": ["s3cret"]}


def test_text_is_returned_exactly_as_received_even_when_rasa_echoes_it_differently(
    fake: FakeRasa,
) -> None:
    text = unicodedata.normalize("NFD", "  Cứu EM với  ")
    answer = rasa_answer(text.strip(), "request_rescue", 0.9)
    fake.script(Reply(body=answer))
    with RasaNLU(url=fake.url, retries=0, **FAST) as nlu:
        parse = nlu.parse(text)
    assert parse["text"] == text
    assert fake.parse_requests()[0].body == {"text": unicodedata.normalize("NFC", text)}


def test_low_confidence_intent_is_passed_through_unchanged(fake: FakeRasa) -> None:
    # Thresholding is Rasa's FallbackClassifier's job (nlu_data/config.yml), not the client's.
    fake.script(
        Reply(
            body=rasa_answer("hmm", "ask_info", 0.21, ranking=[("ask_info", 0.21), ("greet", 0.2)])
        )
    )
    with RasaNLU(url=fake.url, retries=0, **FAST) as nlu:
        parse = nlu.parse("hmm")
    assert parse["intent"] == {"name": "ask_info", "confidence": 0.21}
    assert [e["name"] for e in parse["intent_ranking"]] == ["ask_info", "greet"]


def test_null_intent_becomes_out_of_scope(fake: FakeRasa) -> None:
    # What Rasa sends when nothing is predicted [rasa/core/processor.py].
    fake.script(Reply(body={"text": "", "intent": {"name": None, "confidence": 0.0}}))
    with RasaNLU(url=fake.url, retries=0, **FAST) as nlu:
        parse = nlu.parse("???")
    assert parse == {
        "text": "???",
        "intent": {"name": "out_of_scope", "confidence": 0.0},
        "intent_ranking": [{"name": "out_of_scope", "confidence": 0.0}],
        "entities": [],
    }


def test_zero_confidence_intent_becomes_out_of_scope(fake: FakeRasa) -> None:
    fake.script(Reply(body=rasa_answer("abc", "greet", 0.0)))
    with RasaNLU(url=fake.url, retries=0, **FAST) as nlu:
        assert nlu.parse("abc")["intent"]["name"] == "out_of_scope"


def test_nlu_fallback_becomes_out_of_scope_once_in_the_ranking(fake: FakeRasa) -> None:
    fake.script(
        Reply(
            body=rasa_answer(
                "giá vàng",
                "nlu_fallback",
                0.4,
                ranking=[("nlu_fallback", 0.4), ("ask_info", 0.3), ("out_of_scope", 0.25)],
            )
        )
    )
    with RasaNLU(url=fake.url, retries=0, **FAST) as nlu:
        parse = nlu.parse("giá vàng")
    assert parse["intent"] == {"name": "out_of_scope", "confidence": 0.4}
    assert parse["intent_ranking"] == [
        {"name": "out_of_scope", "confidence": 0.4},
        {"name": "ask_info", "confidence": 0.3},
    ]


def test_intent_unknown_to_the_spec_becomes_out_of_scope(fake: FakeRasa) -> None:
    fake.script(Reply(body=rasa_answer("cháy", "report_fire", 0.9)))
    with RasaNLU(url=fake.url, retries=0, **FAST) as nlu:
        assert nlu.parse("cháy")["intent"] == {"name": "out_of_scope", "confidence": 0.9}


def test_empty_and_missing_entities_give_an_empty_list(fake: FakeRasa) -> None:
    body = rasa_answer("xin chào", "greet", 0.99)
    without_key = dict(body)
    del without_key["entities"]
    fake.script(Reply(body=body), Reply(body=without_key))
    with RasaNLU(url=fake.url, retries=0, **FAST) as nlu:
        assert nlu.parse("xin chào")["entities"] == []
        assert nlu.parse("xin chào")["entities"] == []


def test_entities_with_offsets_outside_the_text_are_dropped(fake: FakeRasa) -> None:
    text = "sang tq"
    fake.script(
        Reply(
            body=rasa_answer(
                text,
                "report_trafficking",
                0.9,
                entities=[
                    {"entity": "country", "start": 5, "end": 7, "value": "Trung Quốc"},
                    {"entity": "country", "start": 5, "end": 70, "value": "x"},
                    {"entity": "country", "start": 3, "end": 3, "value": "x"},
                    {"entity": "country", "start": "5", "end": 7, "value": "x"},
                ],
            )
        )
    )
    with RasaNLU(url=fake.url, retries=0, **FAST) as nlu:
        entities = nlu.parse(text)["entities"]
    assert entities == [
        {
            "entity": "country",
            "value": "Trung Quốc",
            "start": 5,
            "end": 7,
            "text": "tq",
            "extractor": "rasa",
        }
    ]


def test_of_overlapping_entities_with_one_label_the_longest_is_kept(fake: FakeRasa) -> None:
    text = "sdt 0912 345 678, 2 nguoi"
    fake.script(
        Reply(
            body=rasa_answer(
                text,
                "report_trafficking",
                0.9,
                entities=[
                    {"entity": "phone", "start": 4, "end": 12, "extractor": "DIETClassifier"},
                    {"entity": "person_count", "start": 18, "end": 19, "value": "2"},
                    {"entity": "phone", "start": 4, "end": 16, "extractor": "RegexEntityExtractor"},
                ],
            )
        )
    )
    with RasaNLU(url=fake.url, retries=0, **FAST) as nlu:
        entities = nlu.parse(text)["entities"]
    assert [(e["entity"], e["text"], e["value"]) for e in entities] == [
        ("phone", "0912 345 678", "+84912345678"),
        ("person_count", "2", "2"),
    ]


def test_phone_or_reference_code_that_is_not_one_is_dropped(fake: FakeRasa) -> None:
    text = "o tang 3, ma TIP-1"
    fake.script(
        Reply(
            body=rasa_answer(
                text,
                "request_rescue",
                0.9,
                entities=[
                    {"entity": "phone", "start": 7, "end": 8, "extractor": "DIETClassifier"},
                    {"entity": "reference_code", "start": 13, "end": 18},
                ],
            )
        )
    )
    with RasaNLU(url=fake.url, retries=0, **FAST) as nlu:
        assert nlu.parse(text)["entities"] == []


def test_text_starting_with_slash_is_not_read_as_an_intent_literal(fake: FakeRasa) -> None:
    # Rasa would answer "/request_rescue" with intent request_rescue, confidence 1.0.
    text = " /request_rescue o cam"
    sent = "  request_rescue o cam"
    stripped = sent.strip()  # what Rasa parses, and what its offsets count in
    fake.script(
        Reply(
            body=rasa_answer(
                stripped,
                "out_of_scope",
                0.6,
                entities=[{"entity": "country", "start": 17, "end": 20, "value": "Campuchia"}],
            )
        )
    )
    with RasaNLU(url=fake.url, retries=0, **FAST) as nlu:
        parse = nlu.parse(text)
    assert fake.parse_requests()[0].body == {"text": sent}
    assert parse["text"] == text
    [entity] = parse["entities"]
    assert (entity["start"], entity["end"], entity["text"]) == (19, 22, "cam")


def test_offsets_account_for_the_blanks_rasa_strips(fake: FakeRasa) -> None:
    text = "\n  em ở Huế "
    fake.script(
        Reply(
            body=rasa_answer(
                text.strip(),
                "request_support",
                0.7,
                entities=[{"entity": "province", "start": 5, "end": 8, "value": "Huế"}],
            )
        )
    )
    with RasaNLU(url=fake.url, retries=0, **FAST) as nlu:
        [entity] = nlu.parse(text)["entities"]
    assert (entity["start"], entity["end"], entity["text"]) == (8, 11, "Huế")


def test_decomposed_text_is_sent_composed_and_offsets_point_into_the_original(
    fake: FakeRasa,
) -> None:
    # NFD: every accented letter is a base letter plus one or two combining marks.
    text = unicodedata.normalize("NFD", "Con gái tôi bị bán sang Trung Quốc")
    composed = unicodedata.normalize("NFC", text)
    start = composed.index("Trung Quốc")
    fake.script(
        Reply(
            body=rasa_answer(
                composed,
                "report_trafficking",
                0.9,
                entities=[
                    {"entity": "country", "start": start, "end": start + 10, "value": "Trung Quốc"}
                ],
            )
        )
    )
    with RasaNLU(url=fake.url, retries=0, **FAST) as nlu:
        parse = nlu.parse(text)
    assert fake.parse_requests()[0].body == {"text": composed}
    assert parse["text"] == text
    [entity] = parse["entities"]
    assert entity["text"] == text[entity["start"] : entity["end"]]
    assert unicodedata.normalize("NFC", entity["text"]) == "Trung Quốc"
    assert len(entity["text"]) > 10  # the decomposed form, as received


@pytest.mark.parametrize("text", ["", "   ", "/", " // "])
def test_empty_text_is_out_of_scope_without_asking_rasa(fake: FakeRasa, text: str) -> None:
    # Rasa predicts some intent even for "" (whatever lies nearest the empty vector).
    with RasaNLU(url=fake.url, retries=0, **FAST) as nlu:
        parse = nlu.parse(text)
    assert parse == {
        "text": text,
        "intent": {"name": "out_of_scope", "confidence": 0.0},
        "intent_ranking": [{"name": "out_of_scope", "confidence": 0.0}],
        "entities": [],
    }
    assert fake.parse_requests() == []


def test_same_entity_from_two_extractors_is_kept_once(fake: FakeRasa) -> None:
    text = "sang tq"
    found = {"entity": "country", "start": 5, "end": 7, "value": "Trung Quốc"}
    fake.script(
        Reply(
            body=rasa_answer(
                text,
                "report_trafficking",
                0.9,
                entities=[
                    {**found, "extractor": "DIETClassifier"},
                    {**found, "extractor": "RegexEntityExtractor"},
                ],
            )
        )
    )
    with RasaNLU(url=fake.url, retries=0, **FAST) as nlu:
        entities = nlu.parse(text)["entities"]
    assert [e["extractor"] for e in entities] == ["DIETClassifier"]


def test_5xx_is_retried_then_succeeds(fake: FakeRasa) -> None:
    fake.script(
        Reply(status=500, body={"status": "failure", "reason": "ParsingError"}),
        Reply(status=503, body={}),
        Reply(body=rasa_answer("vâng", "affirm", 0.95)),
    )
    with RasaNLU(url=fake.url, retries=2, **FAST) as nlu:
        assert nlu.parse("vâng")["intent"]["name"] == "affirm"
    assert len(fake.parse_requests()) == 3


def test_persistent_500_without_fallback_raises_naming_the_url(fake: FakeRasa) -> None:
    fake.script(*[Reply(status=500, body={"reason": "ParsingError"})] * 3)
    with (
        RasaNLU(url=fake.url, retries=2, **FAST) as nlu,
        pytest.raises(RasaUnavailable, match=r"HTTP 500 after 3 attempt") as raised,
    ):
        nlu.parse("cứu em")
    assert fake.url in str(raised.value)
    assert "cứu em" not in str(raised.value)
    assert len(fake.parse_requests()) == 3


def test_persistent_500_with_fallback_uses_it_and_logs_without_the_text(
    fake: FakeRasa, fallback: RecordingFallback, caplog: pytest.LogCaptureFixture
) -> None:
    fake.script(*[Reply(status=500, body={})] * 2)
    text = "em bị nhốt ở Campuchia, sdt 0912 345 678"
    with (
        caplog.at_level(logging.WARNING, logger="bot.nlu.rasa_client"),
        RasaNLU(url=fake.url, retries=1, fallback=fallback, **FAST) as nlu,
    ):
        parse = nlu.parse(text)
    assert parse["intent"]["name"] == "request_rescue"
    assert fallback.texts == [text]
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert fake.url in record.getMessage()
    assert "0912" not in caplog.text and "Campuchia" not in caplog.text


def test_slow_server_times_out_quickly_and_falls_back(
    fake: FakeRasa, fallback: RecordingFallback
) -> None:
    fake.script(*[Reply(body=rasa_answer("x", "greet", 0.9), delay_seconds=1.0)] * 2)
    started = time.monotonic()
    with RasaNLU(
        url=fake.url, timeout=0.1, retries=1, backoff_seconds=0.0, fallback=fallback
    ) as nlu:
        parse = nlu.parse("cuu em")
    assert time.monotonic() - started < 0.8
    assert parse["intent"]["name"] == "request_rescue"
    assert fallback.texts == ["cuu em"]


def test_slow_server_without_fallback_raises_timeout(fake: FakeRasa) -> None:
    fake.script(Reply(body=rasa_answer("x", "greet", 0.9), delay_seconds=1.0))
    with (
        RasaNLU(url=fake.url, timeout=0.1, retries=0, backoff_seconds=0.0) as nlu,
        pytest.raises(RasaUnavailable, match="timed out"),
    ):
        nlu.parse("x")


def test_connection_refused_falls_back(fallback: RecordingFallback) -> None:
    with RasaNLU(url=closed_port_url(), retries=1, fallback=fallback, **FAST) as nlu:
        assert nlu.parse("toi bi lua")["intent"]["name"] == "request_rescue"
    assert fallback.texts == ["toi bi lua"]


def test_connection_refused_without_fallback_raises_naming_the_url() -> None:
    url = closed_port_url()
    with (
        RasaNLU(url=url, retries=1, **FAST) as nlu,
        pytest.raises(RasaUnavailable, match="unreachable") as raised,
    ):
        nlu.parse("toi bi lua")
    assert url in str(raised.value)


@pytest.mark.parametrize(
    "reply",
    [
        Reply(raw=b"<html>Bad Gateway</html>"),
        Reply(body=["not", "a", "parse"]),
        Reply(body={"text": "x", "entities": []}),
        Reply(body={"intent": {"name": "greet", "confidence": "high"}}),
        Reply(body={"intent": {"name": "greet", "confidence": 0.9}, "entities": "none"}),
    ],
    ids=["html", "json-list", "no-intent", "bad-confidence", "bad-entities"],
)
def test_garbage_answer_falls_back_or_raises(
    fake: FakeRasa, fallback: RecordingFallback, reply: Reply
) -> None:
    fake.script(reply, reply)
    with RasaNLU(url=fake.url, retries=0, fallback=fallback, **FAST) as nlu:
        assert nlu.parse("xin chao")["intent"]["name"] == "request_rescue"
    with RasaNLU(url=fake.url, retries=0, **FAST) as nlu, pytest.raises(RasaUnavailable):
        nlu.parse("xin chao")
    # Garbage is not transient: it is not retried.
    assert len(fake.parse_requests()) == 2


def test_wrong_token_is_not_retried_and_says_so(fake: FakeRasa) -> None:
    fake.script(Reply(status=401, body={"status": "failure", "reason": "NotAuthenticated"}))
    with (
        RasaNLU(url=fake.url, token="wrong", retries=2, **FAST) as nlu,
        pytest.raises(RasaUnavailable, match="HOTLINE_RASA_TOKEN") as raised,
    ):
        nlu.parse("x")
    assert "wrong" not in str(raised.value)
    assert len(fake.parse_requests()) == 1


def test_server_without_enable_api_answers_404_and_says_so(fake: FakeRasa) -> None:
    fake.script(Reply(status=404, body={}))
    with (
        RasaNLU(url=fake.url, retries=2, **FAST) as nlu,
        pytest.raises(RasaUnavailable, match="enable-api"),
    ):
        nlu.parse("x")


def test_after_a_failure_rasa_is_skipped_for_a_while_then_tried_again(
    fake: FakeRasa, fallback: RecordingFallback
) -> None:
    fake.script(Reply(status=500, body={}))
    with RasaNLU(url=fake.url, retries=0, fallback=fallback, down_for_seconds=0.2, **FAST) as nlu:
        nlu.parse("one")
        nlu.parse("two")  # within down_for_seconds: straight to the fallback
        assert len(fake.parse_requests()) == 1
        time.sleep(0.25)
        assert nlu.parse("three")["intent"]["name"] == "greet"  # Rasa is asked again
    assert fallback.texts == ["one", "two"]
    assert len(fake.parse_requests()) == 2


def test_status_returns_the_loaded_model(fake: FakeRasa) -> None:
    with RasaNLU(url=fake.url, retries=0, **FAST) as nlu:
        assert nlu.status()["model_id"] == "fake"


def test_normalise_keeps_role_and_group() -> None:
    body = rasa_answer(
        "từ Huế sang Lào",
        "report_trafficking",
        0.8,
        entities=[
            {"entity": "country", "start": 12, "end": 15, "value": "Lào", "role": "destination"}
        ],
    )
    [entity] = normalise_rasa_parse(body, "từ Huế sang Lào")["entities"]
    assert entity["role"] == "destination"
    assert entity["text"] == "Lào"


def test_load_nlu_with_rasa_backend_parses_through_rasa(fake: FakeRasa) -> None:
    from bot.config import BotSettings
    from bot.nlu import load_nlu

    fake.script(Reply(body=rasa_answer("tạm biệt", "goodbye", 0.99)))
    settings = BotSettings(
        nlu_backend="rasa", rasa_url=fake.url, rasa_token="t", rasa_fallback_to_embedded=False
    )
    nlu = load_nlu(settings)
    assert isinstance(nlu, RasaNLU)
    assert nlu.parse("tạm biệt")["intent"] == {"name": "goodbye", "confidence": 0.99}
    assert fake.parse_requests()[0].query == {"token": ["t"]}


# --- nlu_data/config.yml and domain.yml, which train the model this client talks to ---

NLU_DATA = Path(__file__).resolve().parents[3] / "nlu_data"
SPEC_ENTITIES = {
    "province",
    "country",
    "phone",
    "age",
    "person_count",
    "relation",
    "platform",
    "reference_code",
}


def test_domain_lists_the_intents_and_entities_of_the_spec() -> None:
    domain = yaml.safe_load((NLU_DATA / "domain.yml").read_text(encoding="utf-8"))
    assert domain["version"] == "3.1"
    assert set(domain["intents"]) == KNOWN_INTENTS
    assert len(domain["intents"]) == 14
    assert set(domain["entities"]) == SPEC_ENTITIES


def test_rasa_config_trains_offline_and_maps_synonyms_after_every_extractor() -> None:
    config = yaml.safe_load((NLU_DATA / "config.yml").read_text(encoding="utf-8"))
    assert config["language"] == "vi"
    assert config["recipe"] == "default.v1"
    assert config["assistant_id"]
    names = [component["name"] for component in config["pipeline"]]
    # These download pretrained models or need extra packages; the server must train offline.
    assert not {"SpacyNLP", "MitieNLP", "LanguageModelFeaturizer", "ConveRTFeaturizer"} & set(names)
    assert "DIETClassifier" in names
    assert names.index("EntitySynonymMapper") > max(
        names.index(n) for n in ("DIETClassifier", "RegexEntityExtractor")
    )


@pytest.mark.parametrize(
    ("label", "value", "surface", "canonical"),
    [
        ("phone", "0912 345 678", "0912 345 678", "+84912345678"),
        ("phone", "091.234.5678", "091.234.5678", "+84912345678"),
        ("phone", "+84912345678", "+84912345678", "+84912345678"),
        ("reference_code", "tip 7k3q9", "tip 7k3q9", "TIP-7K3Q9"),
        ("age", "16 tuổi", "16 tuổi", "16"),
        ("age", "16t", "mới 16t", "16"),
        ("person_count", "3", "3 cô gái", "3"),
        ("country", "Campuchia", "cam", "Campuchia"),
        ("relation", "child", "con gái", "child"),
    ],
)
def test_values_take_the_canonical_form_of_the_spec(
    fake: FakeRasa, label: str, value: str, surface: str, canonical: str
) -> None:
    text = f"xx {surface} yy"
    start = 3
    fake.script(
        Reply(
            body=rasa_answer(
                text,
                "report_trafficking",
                0.9,
                entities=[
                    {"entity": label, "start": start, "end": start + len(surface), "value": value}
                ],
            )
        )
    )
    with RasaNLU(url=fake.url, retries=0, **FAST) as nlu:
        [entity] = nlu.parse(text)["entities"]
    assert entity["value"] == canonical
    assert entity["text"] == surface
